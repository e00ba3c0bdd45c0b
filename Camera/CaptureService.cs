using Camera.Jpeg;
using Microsoft.Extensions.Logging;

namespace Camera;

/// <summary>
/// Runs the capture loop on a dedicated thread: picks the source (<c>auto</c> tries each candidate until one
/// delivers a frame), paces it, publishes into the <see cref="FrameHub"/>, slows to <c>Camera:IdleFps</c> when
/// nobody watches, and reopens a lost device with backoff. It never blocks on consumers.
/// </summary>
public sealed partial class CaptureService : IDisposable
{
    private static readonly TimeSpan FirstFrameTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly CameraOptions _options;
    private readonly FrameHub _hub;
    private readonly IReadOnlyList<FrameSourceFactory> _factories;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<long> _recentTimestamps = new();
    private readonly List<SkippedSource> _skipped = [];
    private SkippedSource[] _skippedSnapshot = []; // what status reports; copied once per selection, not per frame
    private readonly ManualResetEventSlim _viewerArrived = new(false);
    private readonly ManualResetEventSlim _tick = new(false); // set by a non-system clock's timer (see Wait)
    private long _noCameraPublishedAt = long.MinValue / 2;
    private TimeSpan _backoff = TimeSpan.FromSeconds(1);
    private Thread? _thread;
    private FrameSource? _source;
    private volatile CaptureStatus _status;
    private long _heartbeatTicks;
    private Frame? _noCamera;

    public CaptureService(
        CameraOptions options, FrameHub hub, IEnumerable<FrameSourceFactory> factories, ILogger<CaptureService> logger,
        TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _hub = hub ?? throw new ArgumentNullException(nameof(hub));
        _factories = [.. factories ?? throw new ArgumentNullException(nameof(factories))];
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? TimeProvider.System;
        _status = new CaptureStatus(CaptureState.Starting, null, null, 0, 0, options.Fps, 0, null, []);
        _heartbeatTicks = _time.GetTimestamp();
        _hub.FirstViewerArrived += _viewerArrived.Set;
    }

    public CaptureStatus Status => _status;

    /// <summary>
    /// Raised when the camera is lost (or none could be opened: false, with the reason) and when frames come again
    /// (true, null): only on these transitions, never per frame. Raised on the capture thread: handlers must hand the
    /// work on and return.
    /// </summary>
    public event Action<bool, string?>? AvailabilityChanged;

    private bool? _available;

    /// <summary>
    /// When the loop last went round. It advances at least once a second while the loop is healthy, even when idle,
    /// so a watchdog can tell a stuck driver call from a quiet camera.
    /// </summary>
    public TimeSpan SinceHeartbeat => _time.GetElapsedTime(Interlocked.Read(ref _heartbeatTicks));

    public void Start()
    {
        if (_thread is not null)
        {
            return;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "capture" };
        _thread.Start();
    }

    /// <summary>Stops the loop and closes the source; waits up to <paramref name="timeout"/>.</summary>
    public void Stop(TimeSpan timeout)
    {
        _stop.Cancel();
        _thread?.Join(timeout);
        SetStatus(CaptureState.Stopped, _status.Problem);
    }

    private void Run()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Beat();
            try
            {
                _source ??= SelectSource(token);
                if (_source is null)
                {
                    SetStatus(CaptureState.Unavailable, "No camera source could be opened.");
                    Sleep(_backoff, token);
                    _backoff = Min(_backoff * 2, MaxBackoff);
                    continue;
                }

                if (_status.State is not (CaptureState.Live or CaptureState.Idle))
                {
                    _source.Open(token);
                    LogOpened(_logger, _source.Description);
                }

                Pump(_source, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // Any failure, not only a FrameSourceException: this is a plain thread, and an exception escaping it
                // (a permission error, a short frame, a failed encode) would end the whole process.
                var name = _source?.Name ?? _options.Source;
                var reason = Reason(name, ex);
                if (ex is not FrameSourceException)
                {
                    LogSourceFailed(_logger, ex, name, reason);
                }

                LogSourceLost(_logger, name, reason, _backoff.TotalSeconds);
                SetStatus(CaptureState.Unavailable, reason);
                CloseQuietly(_source);
                Sleep(_backoff, token);

                // Reset only by a delivered frame (RecordDelivery): a capture command that starts and dies at once
                // is retried ever more slowly, up to MaxBackoff.
                _backoff = Min(_backoff * 2, MaxBackoff);
            }
        }

        CloseQuietly(_source, dispose: true);
    }

    /// <summary>Reads and publishes frames until the source fails or the service stops.</summary>
    private void Pump(FrameSource source, CancellationToken token)
    {
        var next = _time.GetTimestamp();
        var lastFrame = _time.GetTimestamp();
        var wasIdle = true;
        while (!token.IsCancellationRequested)
        {
            Beat();
            var idle = _hub.Viewers == 0;
            if (wasIdle && !idle)
            {
                // A viewer arrived: drop the idle schedule and deliver the next frame now.
                next = _time.GetTimestamp();
            }

            wasIdle = idle;
            if (idle || !source.IsSelfPaced)
            {
                var interval = Interval(idle);
                var wait = interval is null ? TimeSpan.FromSeconds(1) : _time.GetElapsedTime(_time.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    // Bounded waits keep the heartbeat going; a new viewer ends an idle wait at once.
                    WaitForTickOrViewer(Min(wait, TimeSpan.FromSeconds(1)), idle, token);
                    if (interval is null && _hub.Viewers == 0)
                    {
                        SetStatus(CaptureState.Idle, null);
                        continue;
                    }

                    if (_time.GetTimestamp() < next && (_hub.Viewers == 0) == idle)
                    {
                        continue;
                    }
                }
            }

            var frame = source.ReadFrame(ReadTimeout(), token);
            if (frame is null)
            {
                if (_time.GetElapsedTime(lastFrame) > StallTimeout)
                {
                    throw new FrameSourceException($"{source.Name}: no frame for {StallTimeout.TotalSeconds:0} s (device stalled).");
                }

                continue;
            }

            lastFrame = _time.GetTimestamp();
            _hub.Publish(frame);
            RecordDelivery(source, idle);
            var step = Interval(_hub.Viewers == 0) ?? TimeSpan.FromSeconds(1);
            next = Advance(next, step);
        }
    }

    private long Advance(long next, TimeSpan step)
    {
        var now = _time.GetTimestamp();
        var stepTicks = (long)(step.TotalSeconds * _time.TimestampFrequency);
        next += stepTicks;

        // Never burst to catch up after a stall: start the schedule again from now.
        return next < now - stepTicks ? now + stepTicks : next;
    }

    private TimeSpan? Interval(bool idle)
    {
        var fps = idle ? Math.Min(_options.Fps, Math.Max(_options.IdleFps, _hub.MinimumIdleFps)) : _options.Fps;
        return fps == 0 ? null : TimeSpan.FromSeconds(1.0 / fps);
    }

    private TimeSpan ReadTimeout() => TimeSpan.FromSeconds(Math.Max(2.0, 3.0 / Math.Max(1, _options.Fps)));

    /// <summary>A first viewer ends an idle wait at once.</summary>
    private void WaitForTickOrViewer(TimeSpan wait, bool idle, CancellationToken token)
    {
        _viewerArrived.Reset();
        if (idle && _hub.Viewers > 0)
        {
            return;
        }

        Wait(wait, idle ? _viewerArrived : null, token);
    }

    /// <summary>
    /// Sleeps on a kernel wait rather than a timer task: timer callbacks run on the thread pool, and a busy pool
    /// would make the camera stutter. Ends early when <paramref name="wake"/> is set or the service stops. With any
    /// clock but the system's (a test's fake clock), that clock's timer ends the wait instead, so moving the clock
    /// drives the loop.
    /// </summary>
    private void Wait(TimeSpan wait, ManualResetEventSlim? wake, CancellationToken token)
    {
        if (_time == TimeProvider.System)
        {
            if (wake is null)
            {
                token.WaitHandle.WaitOne(RoundUp(wait));
            }
            else
            {
                wake.Wait(RoundUp(wait), token);
            }

            return;
        }

        _tick.Reset();
        using var timer = _time.CreateTimer(static s => ((ManualResetEventSlim)s!).Set(), _tick, wait, Timeout.InfiniteTimeSpan);
        WaitHandle.WaitAny(wake is null ? [_tick.WaitHandle, token.WaitHandle] : [_tick.WaitHandle, wake.WaitHandle, token.WaitHandle]);
    }

    private FrameSource? SelectSource(CancellationToken token)
    {
        var name = _options.Source.ToLowerInvariant();
        if (name != "auto")
        {
            var factory = _factories.FirstOrDefault(f => f.Name == name)
                ?? throw new FrameSourceException($"Camera:Source '{name}' is not available in this build.");
            return factory.Create(_options);
        }

        _skipped.Clear();
        foreach (var candidate in AutoCandidates())
        {
            if (candidate.Factory is null)
            {
                _skipped.Add(new SkippedSource(candidate.Name, candidate.Reason!));
                continue;
            }

            FrameSource? source = null;
            try
            {
                source = candidate.Factory.Create(_options);
                source.Open(token);
                var first = source.ReadFrame(FirstFrameTimeout, token)
                    ?? throw new FrameSourceException($"no frame within {FirstFrameTimeout.TotalSeconds:0} s");
                _skippedSnapshot = [.. _skipped];
                _hub.Publish(first);
                RecordDelivery(source, _hub.Viewers == 0);
                LogAutoChose(_logger, source.Name, _skipped.Count == 0 ? "first choice" : string.Join("; ", _skipped.Select(s => $"{s.Name}: {s.Reason}")));
                return source;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                var failed = source?.Name ?? candidate.Name;
                var reason = Reason(failed, ex);
                if (ex is not FrameSourceException)
                {
                    LogSourceFailed(_logger, ex, failed, reason);
                }

                _skipped.Add(new SkippedSource(failed, reason));
                CloseQuietly(source, dispose: true);
            }
        }

        _skippedSnapshot = [.. _skipped];
        return null;
    }

    private IEnumerable<(string Name, FrameSourceFactory? Factory, string? Reason)> AutoCandidates()
    {
        if (!_factories.Any(f => f.Name == "v4l2"))
        {
            yield return ("v4l2", null, "V4L2 capture is not part of this build yet");
        }

        foreach (var factory in _factories.Where(f => f.AutoPriority is not null).OrderBy(f => f.AutoPriority))
        {
            yield return (factory.Name, factory, null);
        }
    }

    private void RecordDelivery(FrameSource source, bool idle)
    {
        _backoff = TimeSpan.FromSeconds(1);
        var now = _time.GetTimestamp();
        _recentTimestamps.Enqueue(now);
        var window = (long)(2 * _time.TimestampFrequency);
        while (_recentTimestamps.Count > 1 && now - _recentTimestamps.Peek() > window)
        {
            _recentTimestamps.Dequeue();
        }

        var fps = 0.0;
        if (_recentTimestamps.Count > 1)
        {
            var span = (now - _recentTimestamps.Peek()) / (double)_time.TimestampFrequency;
            fps = span > 0 ? (_recentTimestamps.Count - 1) / span : 0;
        }

        _status = new CaptureStatus(
            idle ? CaptureState.Idle : CaptureState.Live, source.Name, source.Description, source.Width, source.Height,
            _options.Fps, Math.Round(fps, 1), null, _skippedSnapshot);
        if (_available != true)
        {
            _available = true;
            AvailabilityChanged?.Invoke(true, null);
        }
    }

    private void SetStatus(CaptureState state, string? problem)
    {
        _status = _status with { State = state, Problem = problem, DeliveredFps = state == CaptureState.Unavailable ? 0 : _status.DeliveredFps, Skipped = _skippedSnapshot };
        if (state == CaptureState.Unavailable && _available != false)
        {
            _available = false;
            AvailabilityChanged?.Invoke(false, problem);
        }
    }

    private void Beat() => Interlocked.Exchange(ref _heartbeatTicks, _time.GetTimestamp());

    /// <summary>Backoff between reopen attempts, in slices of at most a second so the heartbeat keeps going.</summary>
    private void Sleep(TimeSpan delay, CancellationToken token)
    {
        var end = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
        while (!token.IsCancellationRequested && _time.GetTimestamp() < end)
        {
            Beat();
            PublishNoCameraFrame();
            var left = TimeSpan.FromSeconds((end - _time.GetTimestamp()) / (double)_time.TimestampFrequency);
            Wait(Min(left, TimeSpan.FromSeconds(1)), null, token);
        }
    }

    /// <summary>
    /// While the camera is unavailable (the only time the loop sleeps), viewers get a "no camera" picture about once
    /// a second instead of a frozen last frame. /healthz still reports the outage from the status.
    /// </summary>
    private void PublishNoCameraFrame()
    {
        if (_time.GetElapsedTime(_noCameraPublishedAt) < TimeSpan.FromSeconds(1))
        {
            return;
        }

        _noCameraPublishedAt = _time.GetTimestamp();
        try
        {
            _noCamera ??= NoCameraFrame.Render(_options.Width, _options.Height, _options.Quality, _time.GetUtcNow());
            _hub.Publish(Frame.Create(_noCamera.Jpeg.Span, _noCamera.Width, _noCamera.Height, _time.GetUtcNow()));
        }
        catch (Exception ex) when (ex is InvalidOperationException or DllNotFoundException)
        {
            // libturbojpeg failed or is missing: leave the last frame; the status says what is wrong.
        }
    }

    /// <summary>
    /// A <see cref="FrameSourceException"/> already says what to do; anything else is unexpected, so its type is named
    /// with its message.
    /// </summary>
    private static string Reason(string source, Exception ex) =>
        ex is FrameSourceException ? ex.Message : $"{source}: {ex.GetType().Name}: {ex.Message}";

    /// <summary>Closes (or disposes) a source; one that also fails to close must not end the loop.</summary>
    private void CloseQuietly(FrameSource? source, bool dispose = false)
    {
        try
        {
            if (dispose)
            {
                source?.Dispose();
            }
            else
            {
                source?.Close();
            }
        }
        catch (Exception ex)
        {
            LogCloseFailed(_logger, ex, source!.Name);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Kernel waits take whole milliseconds and truncate: 0.4 ms would become a busy loop.</summary>
    private static TimeSpan RoundUp(TimeSpan wait) => TimeSpan.FromMilliseconds(Math.Ceiling(Math.Max(0, wait.TotalMilliseconds)));

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        _hub.FirstViewerArrived -= _viewerArrived.Set;
        _stop.Dispose();
        _viewerArrived.Dispose();
        _tick.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Camera opened: {Description}")]
    private static partial void LogOpened(ILogger logger, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Camera source {Source} lost: {Reason}; retrying in {Seconds} s")]
    private static partial void LogSourceLost(ILogger logger, string source, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Camera source {Source} failed unexpectedly: {Reason}")]
    private static partial void LogSourceFailed(ILogger logger, Exception exception, string source, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Camera source {Source} failed to close")]
    private static partial void LogCloseFailed(ILogger logger, Exception exception, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Camera:Source=auto chose {Source} ({Skipped})")]
    private static partial void LogAutoChose(ILogger logger, string source, string skipped);
}
