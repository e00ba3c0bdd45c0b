using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Camera.Tests;

/// <summary>
/// The capture loop runs on a fake clock: a test moves it only while the loop waits on it (for the next frame, the
/// backoff, the idle heartbeat), so rates and backoff are counted in the clock's time, not the machine's.
/// </summary>
public sealed class CaptureServiceTests
{
    private static readonly TimeSpan FrameStep = TimeSpan.FromMilliseconds(20);

    private readonly TimerCountingTimeProvider _clock = new();

    /// <summary>A scripted device: fails to open, delivers, or dies after some frames.</summary>
    private sealed class ScriptedSource(string name, string? openError = null, int dieAfter = int.MaxValue, bool selfPaced = false) : FrameSource
    {
        private int _delivered;

        public int Opens { get; private set; }

        public override string Name => name;

        public override bool IsSelfPaced => selfPaced;

        public override void Open(CancellationToken cancellationToken)
        {
            Opens++;
            if (openError is not null)
            {
                throw new FrameSourceException(openError);
            }

            _delivered = 0;
            Width = 32;
            Height = 24;
        }

        public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
        {
            // Self-paced is only used dying at once: no test reads frames from it, so it need not wait for them.
            if (_delivered++ >= dieAfter)
            {
                throw new FrameSourceException($"{name} unplugged");
            }

            return Frame.Create(TestJpegs.Make(32, 24), 32, 24, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>
    /// A device that fails with whatever <see cref="Failure"/> makes (not a FrameSourceException), on open or after
    /// some frames, until the test clears it.
    /// </summary>
    private sealed class FailingSource(string name, bool failOnOpen, int dieAfter = 0) : FrameSource
    {
        private volatile Func<Exception>? _failure;
        private int _delivered;
        private int _opens;

        public Func<Exception>? Failure
        {
            get => _failure;
            set => _failure = value;
        }

        public int Opens => Volatile.Read(ref _opens);

        public override string Name => name;

        public override bool IsSelfPaced => false;

        public override void Open(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _opens);
            if (failOnOpen && Failure is { } failure)
            {
                throw failure();
            }

            _delivered = 0;
            Width = 32;
            Height = 24;
        }

        public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (!failOnOpen && _delivered++ >= dieAfter && Failure is { } failure)
            {
                throw failure();
            }

            return Frame.Create(TestJpegs.Make(32, 24), 32, 24, DateTimeOffset.UtcNow);
        }
    }

    private CaptureService Create(CameraOptions options, FrameHub hub, params FrameSourceFactory[] factories) =>
        new(options, hub, factories, NullLogger<CaptureService>.Instance, _clock);

    /// <summary>Waits (in real time, polling) for what the capture thread does without the clock moving.</summary>
    private static async Task WaitUntil(Func<bool> condition, int seconds = 10)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(seconds), "condition not reached in time");
            await Task.Delay(1);
        }
    }

    /// <summary>Moves the clock by <paramref name="span"/>, one <paramref name="step"/> each time the loop waits on it.</summary>
    private async Task MoveClock(TimeSpan span, TimeSpan step)
    {
        for (var moved = TimeSpan.Zero; moved < span; moved += step)
        {
            await WaitUntil(() => _clock.PendingTimers > 0);
            _clock.Advance(step);
        }
    }

    /// <summary>Moves the clock a frame's step at a time while the loop waits, until <paramref name="condition"/> holds.</summary>
    private async Task MoveClockUntil(Func<bool> condition, int clockSeconds = 60)
    {
        var limit = _clock.GetUtcNow().AddSeconds(clockSeconds);
        await WaitUntil(() =>
        {
            if (condition())
            {
                return true;
            }

            Assert.True(_clock.GetUtcNow() < limit, $"condition not reached in {clockSeconds} s of the clock");
            if (_clock.PendingTimers > 0)
            {
                _clock.Advance(FrameStep);
            }

            return false;
        });
    }

    [Fact]
    public async Task Auto_FirstCandidatesFail_UsesNextAndRecordsWhy()
    {
        using var hub = new FrameHub();
        var broken = new ScriptedSource("rpicam", openError: "rpicam-vid is not installed");
        using var capture = Create(new CameraOptions { Source = "auto", Fps = 30 }, hub,
            new FrameSourceFactory("rpicam", 20, _ => broken),
            new FrameSourceFactory("synthetic", 100, _ => new ScriptedSource("synthetic")));
        capture.Start();
        await WaitUntil(() => hub.FramesPublished > 0);

        var status = capture.Status;
        Assert.Equal("synthetic", status.Source);
        Assert.Contains(status.Skipped, s => s.Name == "rpicam" && s.Reason.Contains("not installed", StringComparison.Ordinal));
        Assert.Contains(status.Skipped, s => s.Name == "v4l2");
    }

    [Fact]
    public async Task Run_SourceDies_StatusSaysSoAndItIsReopened()
    {
        using var hub = new FrameHub();
        var source = new ScriptedSource("file", dieAfter: 3);
        using var capture = Create(new CameraOptions { Source = "file", Fps = 50, IdleFps = 50 }, hub, new FrameSourceFactory("file", null, _ => source));
        capture.Start();

        await MoveClockUntil(() => capture.Status.State == CaptureState.Unavailable);
        Assert.Contains("unplugged", capture.Status.Problem, StringComparison.Ordinal);
        await MoveClockUntil(() => source.Opens >= 2 && capture.Status.State is CaptureState.Live or CaptureState.Idle);
    }

    [Fact]
    public async Task Run_NobodyWatching_SlowsToIdleFps_AndAViewerRestoresFullRate()
    {
        using var hub = new FrameHub();
        using var capture = Create(new CameraOptions { Source = "synthetic", Fps = 50, IdleFps = 2 }, hub,
            new FrameSourceFactory("synthetic", 100, _ => new ScriptedSource("synthetic")));
        capture.Start();
        await WaitUntil(() => hub.FramesPublished > 0);

        var before = hub.FramesPublished;
        await MoveClock(TimeSpan.FromSeconds(1), FrameStep);
        var idleFrames = hub.FramesPublished - before;
        Assert.InRange(idleFrames, 1, 4);

        using (hub.RegisterViewer())
        {
            before = hub.FramesPublished;
            await MoveClock(TimeSpan.FromSeconds(1), FrameStep);
            Assert.True(hub.FramesPublished - before >= 20, $"only {hub.FramesPublished - before} frames with a viewer");
        }
    }

    [Fact]
    public async Task Run_IdleFpsZero_PausesUntilAViewerArrives()
    {
        using var hub = new FrameHub();
        using var capture = Create(new CameraOptions { Source = "synthetic", Fps = 30, IdleFps = 0 }, hub,
            new FrameSourceFactory("synthetic", 100, _ => new ScriptedSource("synthetic")));
        capture.Start();
        await MoveClock(TimeSpan.FromMilliseconds(700), FrameStep);
        var paused = hub.FramesPublished;
        await MoveClock(TimeSpan.FromMilliseconds(700), FrameStep);
        Assert.Equal(paused, hub.FramesPublished);

        using var viewer = hub.RegisterViewer();
        await MoveClockUntil(() => hub.FramesPublished > paused + 5);
        Assert.True(capture.SinceHeartbeat < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Run_SourceDiesAtOnceEveryTime_RetriesBackOffAndNoCameraPictureIsOncePerSecond()
    {
        using var hub = new FrameHub();
        var source = new ScriptedSource("rpicam", dieAfter: 0, selfPaced: true);
        using var capture = Create(new CameraOptions { Source = "rpicam", Width = 64, Height = 48 }, hub, new FrameSourceFactory("rpicam", null, _ => source));
        capture.Start();
        await MoveClock(TimeSpan.FromSeconds(4.5), TimeSpan.FromMilliseconds(100));

        // Opens at about 0, 1, 3 s (backoff 1, 2, 4 s), not every second.
        Assert.InRange(source.Opens, 2, 3);
        Assert.Equal(CaptureState.Unavailable, capture.Status.State);
        // Viewers meanwhile see the "no camera" picture about once a second, not a burst.
        Assert.InRange(hub.FramesPublished, 2, 6);
    }

    [Fact]
    public async Task Run_OpenThrowsAnUnexpectedException_ReportsUnavailableShowsNoCameraAndRecovers()
    {
        using var hub = new FrameHub();
        var source = new FailingSource("file", failOnOpen: true) { Failure = () => new UnauthorizedAccessException("Access to the path '/srv/clip.mjpeg' is denied.") };
        using var capture = Create(new CameraOptions { Source = "file", Fps = 50, IdleFps = 50, Width = 64, Height = 48 }, hub, new FrameSourceFactory("file", null, _ => source));
        capture.Start();

        // The capture thread survives (an escaping exception would end the test host), says why, and viewers get
        // the "no camera" picture.
        var seen = capture.Status;
        await WaitUntil(() => (seen = capture.Status).State == CaptureState.Unavailable && hub.FramesPublished > 0);
        Assert.Contains("Access to the path '/srv/clip.mjpeg' is denied.", seen.Problem, StringComparison.Ordinal);
        Assert.Contains(nameof(UnauthorizedAccessException), seen.Problem, StringComparison.Ordinal);

        // Retried with the backoff, and live again once the file can be read.
        await MoveClockUntil(() => source.Opens >= 2);
        Assert.Equal(CaptureState.Unavailable, capture.Status.State);
        source.Failure = null;
        await MoveClockUntil(() => capture.Status is { State: CaptureState.Live or CaptureState.Idle, Problem: null });
    }

    [Fact]
    public async Task Run_ReadThrowsAnUnexpectedExceptionMidStream_ReportsUnavailableAndRecovers()
    {
        using var hub = new FrameHub();
        var source = new FailingSource("v4l2", failOnOpen: false, dieAfter: 3) { Failure = () => new InvalidOperationException("JPEG encoding failed: bogus") };
        using var capture = Create(new CameraOptions { Source = "v4l2", Fps = 50, IdleFps = 50, Width = 64, Height = 48 }, hub, new FrameSourceFactory("v4l2", null, _ => source));
        capture.Start();

        var seen = capture.Status;
        await MoveClockUntil(() => (seen = capture.Status).State == CaptureState.Unavailable);
        Assert.Contains("JPEG encoding failed: bogus", seen.Problem, StringComparison.Ordinal);

        await MoveClockUntil(() => source.Opens >= 2);
        source.Failure = null;
        var published = hub.FramesPublished;
        await MoveClockUntil(() => capture.Status is { State: CaptureState.Live or CaptureState.Idle, Problem: null } && hub.FramesPublished > published + 10);
    }

    [Fact]
    public async Task Auto_CandidateThrowsAnUnexpectedException_IsSkippedWithTheMessage()
    {
        using var hub = new FrameHub();
        var broken = new FailingSource("rpicam", failOnOpen: true) { Failure = () => new UnauthorizedAccessException("Access to the path '/dev/video0' is denied.") };
        using var capture = Create(new CameraOptions { Source = "auto", Fps = 30 }, hub,
            new FrameSourceFactory("rpicam", 20, _ => broken),
            new FrameSourceFactory("synthetic", 100, _ => new ScriptedSource("synthetic")));
        capture.Start();
        await WaitUntil(() => capture.Status.Source == "synthetic");

        Assert.Contains(capture.Status.Skipped, s => s.Name == "rpicam" && s.Reason.Contains("'/dev/video0' is denied", StringComparison.Ordinal));
    }
}
