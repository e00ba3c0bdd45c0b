using Tests.Shared;

namespace Appliance.Tests.Infrastructure;

/// <summary>
/// The fake clock most tests move: once it counts a timer, moving the clock by the timer's due time must fire it
/// (WeComMessengerTests failed once in a clean-clone run when a move came between the count and the timer's
/// registration).
/// </summary>
public sealed class TimerCountingTimeProviderTests
{
    [Fact]
    public async Task Advance_RightAfterTheCountShowsATimer_FiresIt()
    {
        var due = TimeSpan.FromSeconds(30);
        for (var round = 0; round < 2000; round++)
        {
            var clock = new TimerCountingTimeProvider();
            var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var start = new Barrier(2);
            var arming = Task.Run(() =>
            {
                start.SignalAndWait();
                return clock.CreateTimer(_ => fired.TrySetResult(), null, due, Timeout.InfiniteTimeSpan);
            });

            start.SignalAndWait();
            var spins = 0;
            while (clock.PendingTimers == 0)
            {
                Assert.True(++spins < 100_000_000, $"round {round}: the timer was never counted");
                Thread.SpinWait(1);
            }

            clock.Advance(due);
            using var timer = await arming;
            Assert.True(fired.Task.IsCompleted, $"round {round}: counted, the clock moved by its due time, and it did not fire");
            Assert.Equal(0, clock.PendingTimers);
        }
    }

    [Fact]
    public void CreateTimer_ZeroDueTime_FiresAtOnceAndIsNotCounted()
    {
        var clock = new TimerCountingTimeProvider();
        var fired = 0;
        using var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.Zero, Timeout.InfiniteTimeSpan);

        Assert.Equal(1, fired);
        Assert.Equal(0, clock.PendingTimers);
    }

    [Fact]
    public void Change_PeriodicTimer_StaysCountedUntilDisposed()
    {
        var clock = new TimerCountingTimeProvider();
        var fired = 0;
        var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(3, fired);
        Assert.Equal(1, clock.PendingTimers);

        timer.Dispose();
        Assert.Equal(0, clock.PendingTimers);
    }
}
