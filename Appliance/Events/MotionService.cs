using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Interop;
using Appliance.Status;
using Camera;
using Camera.Motion;

namespace Appliance.Events;

/// <summary>
/// Analyses the camera's frames for motion at <c>Motion:Fps</c>. It takes the hub's newest frame (holding a reference
/// only while it decodes, never copying it), so it cannot slow capture: when analysis falls behind, frames are
/// skipped, not queued. While nobody watches it asks capture for <c>Motion:Fps</c> instead of <c>Camera:IdleFps</c>.
/// Registered only when <c>Motion:Enabled</c>, so it costs nothing when off.
/// </summary>
internal sealed partial class MotionService(
    FrameHub hub, MotionOptions options, TimeProvider time, IEnumerable<IMotionListener> listeners, ILogger<MotionService> logger)
    : BackgroundService, IStatusContributor
{
    private readonly IMotionListener[] _listeners = [.. listeners];
    private readonly Lock _gate = new();
    private MotionEvent? _lastEvent;
    private DateTimeOffset? _activeSince;
    private long _framesAnalysed;
    private long _framesFailed;
    private long _events;
    private long _analysisTicks;
    private long _analysisCpuNanoseconds;
    private double _lastShare;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the host reports started (ExecuteAsync runs on the pool): capture is at Motion:Fps from the first frame.
        hub.MinimumIdleFps = options.Fps;
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var decoder = new ScaledGrayDecoder();
        var detector = new MotionDetector(options);
        var interval = TimeSpan.FromSeconds(1.0 / options.Fps);

        // Frames come at capture's pace; take one when it is at least 90 % of an interval newer than the last
        // analysed, so a capture running at exactly Motion:Fps is not halved by jitter.
        var minimumGap = interval * 0.9;
        var lastSequence = 0L;
        var lastAnalysed = DateTimeOffset.MinValue;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var frame = await hub.NextAsync(lastSequence, stoppingToken).ConfigureAwait(false);
                MotionAnalysis analysis;
                DateTimeOffset at;
                try
                {
                    lastSequence = frame.Sequence;
                    at = frame.CapturedAt;
                    if (at - lastAnalysed < minimumGap && at >= lastAnalysed)
                    {
                        continue;
                    }

                    lastAnalysed = at;
                    var started = Stopwatch.GetTimestamp();
                    // The decode and the comparison run on this one thread without awaiting, so its CPU clock before
                    // and after is the analysis's own CPU time (the peer comparison with Debian's motion needs it).
                    var cpuStarted = Libc.ThreadCpuNanoseconds();
                    try
                    {
                        decoder.Decode(frame.Jpeg.Span);
                    }
                    catch (InvalidDataException ex)
                    {
                        Interlocked.Increment(ref _framesFailed);
                        LogUndecodable(logger, ex.Message);
                        continue;
                    }

                    analysis = detector.Analyse(decoder.Pixels, decoder.Width, decoder.Height, at);
                    Interlocked.Add(ref _analysisTicks, Stopwatch.GetTimestamp() - started);
                    var cpuEnded = Libc.ThreadCpuNanoseconds();
                    if (cpuStarted >= 0 && cpuEnded >= cpuStarted)
                    {
                        Interlocked.Add(ref _analysisCpuNanoseconds, cpuEnded - cpuStarted);
                    }

                    Interlocked.Increment(ref _framesAnalysed);
                }
                finally
                {
                    frame.Release();
                }

                Volatile.Write(ref _lastShare, analysis.ChangedShare);
                if (analysis.Started is { } start)
                {
                    Started(start);
                }

                if (analysis.Ended is { } ended)
                {
                    Ended(ended);
                }

                // Sleeps out the interval instead of waking for every frame; then NextAsync takes the newest one.
                var rest = minimumGap - (time.GetUtcNow() - at);
                if (rest > TimeSpan.Zero)
                {
                    await Task.Delay(rest, time, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The hub was disposed while the host stopped.
        }
        finally
        {
            hub.MinimumIdleFps = 0;
            if (detector.Flush() is { } last)
            {
                Ended(last);
            }
        }
    }

    private void Started(DateTimeOffset start)
    {
        lock (_gate)
        {
            _activeSince = start;
        }

        LogStarted(logger, start);
        foreach (var listener in _listeners)
        {
            listener.MotionStarted(start);
        }
    }

    private void Ended(MotionEvent motion)
    {
        lock (_gate)
        {
            _activeSince = null;
            _lastEvent = motion;
            _events++;
        }

        LogEnded(logger, motion.Start, motion.End, motion.PeakShare);
        foreach (var listener in _listeners)
        {
            listener.MotionEnded(motion);
        }
    }

    public void Contribute(JsonObject status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var analysed = Interlocked.Read(ref _framesAnalysed);
        var entry = new JsonObject
        {
            ["enabled"] = true,
            ["fps"] = options.Fps,
            ["framesAnalysed"] = analysed,
            ["framesUndecodable"] = Interlocked.Read(ref _framesFailed),
            ["analysisMillisecondsPerFrame"] = analysed == 0 ? null
                : Math.Round(Interlocked.Read(ref _analysisTicks) * 1000.0 / Stopwatch.Frequency / analysed, 3),
            ["analysisCpuMillisecondsPerFrame"] = analysed == 0 ? null
                : Math.Round(Interlocked.Read(ref _analysisCpuNanoseconds) / 1e6 / analysed, 3),
            ["analysisCpuSeconds"] = Math.Round(Interlocked.Read(ref _analysisCpuNanoseconds) / 1e9, 3),
            ["changedShare"] = Math.Round(Volatile.Read(ref _lastShare), 4),
        };
        lock (_gate)
        {
            entry["active"] = _activeSince is not null;
            entry["activeSince"] = _activeSince?.ToString("O", CultureInfo.InvariantCulture);
            entry["events"] = _events;
            entry["lastEvent"] = _lastEvent is { } last
                ? new JsonObject
                {
                    ["start"] = last.Start.ToString("O", CultureInfo.InvariantCulture),
                    ["end"] = last.End.ToString("O", CultureInfo.InvariantCulture),
                    ["peakShare"] = Math.Round(last.PeakShare, 4),
                }
                : null;
        }

        status["motion"] = entry;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Motion started at {Start:O}")]
    private static partial void LogStarted(ILogger logger, DateTimeOffset start);

    [LoggerMessage(Level = LogLevel.Information, Message = "Motion from {Start:O} to {End:O} (at most a share of {PeakShare:0.000} of the picture moved)")]
    private static partial void LogEnded(ILogger logger, DateTimeOffset start, DateTimeOffset end, double peakShare);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Motion: a frame could not be decoded and was skipped: {Reason}")]
    private static partial void LogUndecodable(ILogger logger, string reason);
}

/// <summary>Told when motion starts and ends (the events index, alerts); called on the analyser, so keep it short.</summary>
public interface IMotionListener
{
    void MotionStarted(DateTimeOffset start);

    void MotionEnded(MotionEvent motion);
}
