using Camera;

namespace Appliance.Events;

/// <summary>
/// Something that is down for a while (the camera, the tunnel) as one timeline event: its start when it goes, its end
/// when it is back (end empty meanwhile). Transitions are written in order on the pool, never on the thread that
/// reported them (the capture loop must not wait for SQLite).
/// </summary>
internal sealed class OutageTracker(IEventRecorder recorder, string kind)
{
    private readonly Lock _gate = new();
    private Task _tail = Task.CompletedTask;
    private long? _open;
    private bool _down;

    /// <summary>Down at <paramref name="at"/>; ignored while already down.</summary>
    public void Down(DateTimeOffset at, string? source) => Enqueue(() =>
    {
        if (!_down)
        {
            _down = true;
            _open = recorder.Begin(kind, at, source, null);
        }
    });

    /// <summary>Back at <paramref name="at"/>; ignored unless down.</summary>
    public void Up(DateTimeOffset at) => Enqueue(() =>
    {
        if (_down && _open is { } id)
        {
            recorder.End(id, at);
        }

        _down = false;
        _open = null;
    });

    /// <summary>Completes when every transition reported so far is written (tests, shutdown).</summary>
    public Task Written
    {
        get
        {
            lock (_gate)
            {
                return _tail;
            }
        }
    }

    private void Enqueue(Action write)
    {
        lock (_gate)
        {
            _tail = _tail.ContinueWith(_ => write(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }
}

/// <summary>Camera lost / back (kind <c>camera</c>): source is what capture said went wrong, end is when frames came again.</summary>
internal sealed class CameraEventWatcher(CaptureService capture, IEventRecorder recorder, TimeProvider time) : IHostedService
{
    private readonly OutageTracker _outage = new(recorder, "camera");

    internal Task Written => _outage.Written;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        capture.AvailabilityChanged += OnChanged;

        // Capture may have started before this: a camera already missing is an outage from now.
        if (capture.Status is { State: CaptureState.Unavailable } status)
        {
            _outage.Down(time.GetUtcNow(), status.Problem ?? "camera");
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        capture.AvailabilityChanged -= OnChanged;
        await _outage.Written.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnChanged(bool available, string? problem)
    {
        if (available)
        {
            _outage.Up(time.GetUtcNow());
        }
        else
        {
            _outage.Down(time.GetUtcNow(), problem ?? "camera");
        }
    }
}
