using Appliance.Capture;
using Appliance.Tests.Hardware;
using Camera;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Capture;

/// <summary>What /snapshot and WeCom photos get, on a manual clock: the newest frame when fresh, else the next one.</summary>
public sealed class SnapshotServiceTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xD9];

    private static (SnapshotService Service, FrameHub Hub, FakeTimeProvider Clock) Create()
    {
        var clock = new FakeTimeProvider(Start);
        var hub = new FrameHub(clock);
        return (new SnapshotService(hub, new CameraOptions { Fps = 10 }, clock), hub, clock); // one interval: 100 ms
    }

    [Fact]
    public async Task GetFresh_NewestFrameWithinOneInterval_ReturnedAtOnce()
    {
        var (service, hub, _) = Create();
        using var disposeHub = hub;
        hub.Publish(Frame.Create(Jpeg, 2, 2, Start - TimeSpan.FromMilliseconds(90)));

        var task = service.GetFreshAsync(CancellationToken.None);

        Assert.True(task.IsCompleted);
        var frame = await task;
        Assert.Equal(1, frame!.Sequence);
        frame.Release();
    }

    [Fact]
    public async Task GetFresh_NewestFrameOlderThanOneInterval_WaitsForTheNextOne()
    {
        var (service, hub, _) = Create();
        using var disposeHub = hub;
        hub.Publish(Frame.Create(Jpeg, 2, 2, Start - TimeSpan.FromMilliseconds(110)));

        var task = service.GetFreshAsync(CancellationToken.None);
        Assert.False(task.IsCompleted, "a frame older than one interval was handed out");
        Assert.Equal(1, hub.Viewers); // waiting counts as a viewer, which wakes an idle capture loop
        hub.Publish(Frame.Create(Jpeg, 2, 2, Start));

        var frame = await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, frame!.Sequence);
        frame.Release();
        Assert.Equal(0, hub.Viewers);
    }

    [Fact]
    public async Task GetFresh_NoFrameWithinTheTimeout_NullWhenTheInjectedClockSaysSo()
    {
        var (service, hub, clock) = Create();
        using var disposeHub = hub;

        var task = service.GetFreshAsync(CancellationToken.None);
        clock.Advance(SnapshotService.Timeout - TimeSpan.FromMilliseconds(100));
        await Task.Delay(100);
        Assert.False(task.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Null(await task.WaitAsync(TimeSpan.FromSeconds(2))); // the 5 s are the manual clock's, not real ones
        Assert.Equal(0, hub.Viewers);
    }
}
