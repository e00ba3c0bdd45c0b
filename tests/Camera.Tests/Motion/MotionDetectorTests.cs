using Camera.Motion;
using Camera.Sources;
using Xunit.Abstractions;

namespace Camera.Tests.Motion;

/// <summary>
/// The detector on scripted ffmpeg scenes played through the file source, each frame stamped with its time in the
/// scene (5 fps), so start and end are checked against the script and not against a loaded machine's clock.
/// </summary>
public sealed class MotionDetectorTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset SceneStart = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Detector_StillScene_ReportsNothing()
    {
        var run = Play(MotionScenes.Still, new MotionOptions());
        Assert.Empty(run.Events);
        Assert.True(run.MaxShare < 0.001, $"a still scene moved {run.MaxShare:P2}");
    }

    [Fact]
    public void Detector_BoxMovingThreeSeconds_FindsStartAndEndWithinHalfASecond()
    {
        var run = Play(MotionScenes.MovingBox, new MotionOptions { QuietSeconds = 1 });

        var motion = Assert.Single(run.Events);
        var start = (motion.Start - SceneStart).TotalSeconds;
        var end = (motion.End - SceneStart).TotalSeconds;
        Assert.InRange(start, MotionScenes.MoveStart - 0.5, MotionScenes.MoveStart + 0.5);
        Assert.InRange(end, MotionScenes.MoveEnd - 0.5, MotionScenes.MoveEnd + 0.5);
        Assert.InRange((motion.PeakAt - SceneStart).TotalSeconds, start, end);
        Assert.True(motion.PeakShare >= 0.005, $"peak {motion.PeakShare:P2}");
    }

    [Fact]
    public void Detector_EventStillUnderWayAtTheEnd_IsEndedByFlushAtItsLastMovingFrame()
    {
        // The default QuietSeconds (5) is longer than the 4 s left in the scene after the box stops.
        var run = Play(MotionScenes.MovingBox, new MotionOptions());
        Assert.Empty(run.Events);
        var motion = run.Detector.Flush();
        Assert.NotNull(motion);
        Assert.InRange((motion.End - SceneStart).TotalSeconds, MotionScenes.MoveEnd - 0.5, MotionScenes.MoveEnd + 0.5);
        Assert.Null(run.Detector.Flush());
    }

    [Fact]
    public void Detector_SlowLightRamp_ReportsNoMotion()
    {
        var run = Play(MotionScenes.SlowLightRamp, new MotionOptions { MinFrames = 1 });
        Assert.Empty(run.Events);
        Assert.Equal(0, run.MovingFrames);
    }

    [Fact]
    public void Detector_LightSwitchedOnAndOff_IsRecognisedAsLightAndNotReported()
    {
        var run = Play(MotionScenes.LightSwitch, new MotionOptions { MinFrames = 1 });
        Assert.Empty(run.Events);
        Assert.Equal(0, run.MovingFrames);

        // The detector saw both steps as light changes (what it absorbed), not as nothing.
        Assert.True(run.LightChanges >= 2, $"{run.LightChanges} light changes seen");
    }

    [Fact]
    public void Detector_SensorNoise_ReportsNoMotion()
    {
        var run = Play(MotionScenes.Noise, new MotionOptions { MinFrames = 1 });
        Assert.Empty(run.Events);
        Assert.Equal(0, run.MovingFrames);
    }

    [Fact]
    public void Detector_MaskOverTheBoxPath_IgnoresIt()
    {
        var (top, height) = MotionScenes.BoxBand;
        var masked = new MotionOptions
        {
            QuietSeconds = 1,
            MinFrames = 1,
            Masks = [new MotionMask { Left = 0, Top = top - 2, Width = 100, Height = height + 4 }],
        };
        var run = Play(MotionScenes.MovingBox, masked);
        Assert.Empty(run.Events);
        Assert.Equal(0, run.MovingFrames);
    }

    [Fact]
    public void Detector_MaskElsewhere_StillFindsTheBox()
    {
        var options = new MotionOptions
        {
            QuietSeconds = 1,
            Masks = [new MotionMask { Left = 0, Top = 0, Width = 100, Height = 30 }, new MotionMask { Left = 0, Top = 70, Width = 100, Height = 30 }],
        };
        var motion = Assert.Single(Play(MotionScenes.MovingBox, options).Events);
        Assert.InRange((motion.Start - SceneStart).TotalSeconds, MotionScenes.MoveStart - 0.5, MotionScenes.MoveStart + 0.5);
    }

    [Fact]
    public void Decoder_720pFrame_DecodesAnEighthSizeGrayImage()
    {
        using var source = Open(MotionScenes.Still);
        var frame = source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!;
        using var decoder = new ScaledGrayDecoder();
        decoder.Decode(frame.Jpeg.Span);
        frame.Release();
        Assert.Equal((160, 90), (decoder.Width, decoder.Height));

        // The bars' left edge is mid grey (~40 % in SMPTE RP 219), the second bar light grey.
        Assert.InRange(decoder.Pixels[(20 * 160) + 5], 90, 120);
        Assert.InRange(decoder.Pixels[(20 * 160) + 25], 170, 200);
        Assert.Throws<InvalidDataException>(() => decoder.Decode([0xFF, 0xD8, 0xFF, 0xD9]));
    }

    [Theory]
    [InlineData(1280, 8)]
    [InlineData(640, 4)]
    [InlineData(320, 2)]
    [InlineData(160, 1)]
    public void Decoder_Divisor_KeepsAtLeast160Columns(int width, int divisor) =>
        Assert.Equal(divisor, ScaledGrayDecoder.Divisor(width));

    [Fact]
    public void Options_BadValues_NameEachKey()
    {
        var errors = new MotionOptions
        {
            Fps = 0, Threshold = 1.5, PixelThreshold = 0, MinFrames = 0, QuietSeconds = 0,
            Masks = [new MotionMask { Left = 90, Top = 0, Width = 20, Height = 10 }],
        }.Validate();
        foreach (var key in new[] { "Motion:Fps", "Motion:Threshold", "Motion:PixelThreshold", "Motion:MinFrames", "Motion:QuietSeconds", "Motion:Masks:0" })
        {
            Assert.Contains(errors, e => e.StartsWith(key, StringComparison.Ordinal));
        }

        Assert.Empty(new MotionOptions().Validate());
    }

    private sealed record Run(List<MotionEvent> Events, int MovingFrames, int LightChanges, double MaxShare, MotionDetector Detector);

    private static FileSource Open(string path)
    {
        var source = new FileSource(new CameraOptions { Source = "file", File = path });
        source.Open(CancellationToken.None);
        return source;
    }

    /// <summary>
    /// Plays the scene once through the file source, stamping frame n at n / 5 s. Opening the source reads frame 0
    /// (to check the file), so the first frame analysed is frame 1.
    /// </summary>
    private Run Play(string path, MotionOptions options)
    {
        var frames = FrameCount(path);
        using var source = Open(path);
        using var decoder = new ScaledGrayDecoder();
        var detector = new MotionDetector(options);
        List<MotionEvent> events = [];
        int moving = 0, light = 0;
        var maxShare = 0.0;
        for (var n = 1; n < frames; n++)
        {
            var frame = source.ReadFrame(TimeSpan.Zero, CancellationToken.None) ?? throw new InvalidOperationException("scene ended early");
            try
            {
                decoder.Decode(frame.Jpeg.Span);
            }
            finally
            {
                frame.Release();
            }

            var analysis = detector.Analyse(decoder.Pixels, decoder.Width, decoder.Height, SceneStart.AddSeconds(n / (double)MotionScenes.Fps));
            moving += analysis.Moving ? 1 : 0;
            light += analysis.LightChange ? 1 : 0;
            maxShare = Math.Max(maxShare, analysis.ChangedShare);
            if (analysis.ChangedShare > 0.0005 || analysis.LightChange)
            {
                output.WriteLine($"{n / (double)MotionScenes.Fps:0.0} s: {analysis.ChangedShare:P2}{(analysis.Moving ? " moving" : "")}{(analysis.LightChange ? " light" : "")}");
            }

            if (analysis.Ended is { } ended)
            {
                events.Add(ended);
            }
        }

        return new Run(events, moving, light, maxShare, detector);
    }

    /// <summary>Frames in the file (the source replays in a loop, so it cannot say where the scene ends).</summary>
    private static int FrameCount(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var count = 0;
        for (var i = 0; i + 1 < bytes.Length; i++)
        {
            if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9)
            {
                count++;
            }
        }

        return count;
    }
}
