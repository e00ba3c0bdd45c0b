using Microsoft.Extensions.Logging.Abstractions;
using Relay.Hosting;
using Relay.Streaming;
using Relay.Tunnel;

namespace Relay.Tests.Streaming;

/// <summary>The linger timer of the fan-out, on a clock whose timers run only when the test says so.</summary>
public sealed class StreamFanOutTests
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(10);

    [Fact]
    public void Linger_StaleCallbackAfterAViewerCameAndWent_DoesNotCloseEarly()
    {
        var time = new HeldTimers();
        using var hub = new StreamFanOut("cam", new TunnelRegistry(), new RelayOptions { StreamLinger = Linger }, time, NullLogger.Instance);

        hub.AddViewer().Dispose();
        var firstLinger = time.Callbacks(Linger).Single();

        // A viewer comes and goes: the first linger is disposed and a second one starts. The first one's callback
        // was already on its way, as a real timer's can be after Dispose, and runs now.
        hub.AddViewer().Dispose();
        Assert.Equal(2, time.Callbacks(Linger).Count);
        firstLinger();
        Assert.True(hub.UpstreamOpen);

        // The second linger is the one that closes it.
        time.Callbacks(Linger)[1]();
        Assert.False(hub.UpstreamOpen);
    }

    [Fact]
    public void Linger_ViewerBackBeforeItEnds_KeepsTheUpstream()
    {
        var time = new HeldTimers();
        using var hub = new StreamFanOut("cam", new TunnelRegistry(), new RelayOptions { StreamLinger = Linger }, time, NullLogger.Instance);

        hub.AddViewer().Dispose();
        using var back = hub.AddViewer();
        time.Callbacks(Linger).Single()();
        Assert.True(hub.UpstreamOpen);
        Assert.Equal(1, hub.UpstreamStarts);
    }

    /// <summary>Records every timer; none fires by itself, and a disposed one can still be run, like a real one already queued.</summary>
    private sealed class HeldTimers : TimeProvider
    {
        private readonly Lock _lock = new();
        private readonly List<(TimeSpan Due, Action Run)> _timers = [];

        public List<Action> Callbacks(TimeSpan due)
        {
            lock (_lock)
            {
                return [.. _timers.Where(t => t.Due == due).Select(t => t.Run)];
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (_lock)
            {
                _timers.Add((dueTime, () => callback(state)));
            }

            return new Held();
        }

        private sealed class Held : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
