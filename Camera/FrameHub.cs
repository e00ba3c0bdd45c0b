namespace Camera;

/// <summary>
/// One producer, any number of consumers. The hub keeps only the newest frame: a consumer asks for "the newest
/// frame after the one I had", so one that falls behind skips straight to the newest, never queues, and cannot
/// slow the producer. Waiting consumers share one completion per frame, not one per viewer.
/// </summary>
public sealed class FrameHub : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private Frame? _latest;
    private long _sequence;
    private TaskCompletionSource _next = NewSignal();
    private int _viewers;
    private int _minimumIdleFps;
    private bool _disposed;

    public FrameHub(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Consumers that currently want frames (stream viewers, pending snapshots, recorders).</summary>
    public int Viewers => Volatile.Read(ref _viewers);

    /// <summary>
    /// The rate a background consumer (motion detection) needs while nobody watches; capture then runs at the larger
    /// of this and <c>Camera:IdleFps</c> (never above <c>Camera:Fps</c>) instead of at full rate for a viewer.
    /// </summary>
    public int MinimumIdleFps
    {
        get => Volatile.Read(ref _minimumIdleFps);
        set => Volatile.Write(ref _minimumIdleFps, Math.Max(0, value));
    }

    /// <summary>Frames published since start.</summary>
    public long FramesPublished => Interlocked.Read(ref _sequence);

    /// <summary>When the newest frame was published, or null before the first.</summary>
    public DateTimeOffset? LastPublishedAt { get; private set; }

    /// <summary>Publishes a frame; the hub takes over the caller's reference.</summary>
    public void Publish(Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        Frame? previous;
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_disposed)
            {
                frame.Release();
                return;
            }

            frame.Sequence = ++_sequence;
            previous = _latest;
            _latest = frame;
            LastPublishedAt = _time.GetUtcNow();
            signal = _next;
            _next = NewSignal();
        }

        previous?.Release();
        signal.TrySetResult();
    }

    /// <summary>The newest frame with a reference the caller must release, or null before the first frame.</summary>
    public Frame? AcquireLatest()
    {
        lock (_gate)
        {
            var frame = _latest;
            frame?.AddReference();
            return frame;
        }
    }

    /// <summary>
    /// Waits for the newest frame whose sequence is greater than <paramref name="afterSequence"/> and returns it
    /// with a reference the caller must release.
    /// </summary>
    public async ValueTask<Frame> NextAsync(long afterSequence, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var frame = _latest;
                if (frame is not null && frame.Sequence > afterSequence)
                {
                    frame.AddReference();
                    return frame;
                }

                wait = _next.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Registers a consumer; capture runs at full rate while at least one is registered.</summary>
    public ViewerRegistration RegisterViewer()
    {
        if (Interlocked.Increment(ref _viewers) == 1)
        {
            FirstViewerArrived?.Invoke();
        }

        return new ViewerRegistration(this);
    }

    /// <summary>Raised on the registering thread when the first consumer arrives (capture wakes from idle).</summary>
    public event Action? FirstViewerArrived;

    private void UnregisterViewer() => Interlocked.Decrement(ref _viewers);

    public void Dispose()
    {
        Frame? latest;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            latest = _latest;
            _latest = null;
        }

        latest?.Release();
        _next.TrySetCanceled();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Held by a consumer while it wants frames; dispose to leave.</summary>
    public sealed class ViewerRegistration : IDisposable
    {
        private FrameHub? _hub;

        internal ViewerRegistration(FrameHub hub) => _hub = hub;

        public void Dispose() => Interlocked.Exchange(ref _hub, null)?.UnregisterViewer();
    }
}
