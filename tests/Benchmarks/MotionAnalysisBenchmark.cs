using BenchmarkDotNet.Attributes;
using Camera;
using Camera.Jpeg;
using Camera.Motion;
using Camera.Sources;

namespace Benchmarks;

/// <summary>
/// Motion analysis of one 1280x720 camera JPEG: the scaled gray decode plus the comparison with the background
/// (<see cref="AnalyseOneFrame"/>), against decoding the same frame at full size as a full-resolution detector must
/// (<see cref="FullSizeDecode"/>, the anchor). Frames from the synthetic source (a moving box and a clock over a
/// gradient), alternating so every analysis sees a change.
/// </summary>
[MemoryDiagnoser]
public class MotionAnalysisBenchmark
{
    private readonly byte[][] _frames = new byte[2][];
    private ScaledGrayDecoder _scaled = null!;
    private JpegDecoder _full = null!;
    private MotionDetector _detector = null!;
    private DateTimeOffset _at = DateTimeOffset.UnixEpoch;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var time = new Clock();
        using var source = new SyntheticSource(new CameraOptions { Width = 1280, Height = 720, Quality = 80 }, time);
        source.Open(CancellationToken.None);
        for (var i = 0; i < _frames.Length; i++)
        {
            time.Now = time.Now.AddMilliseconds(700);
            var frame = source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!;
            _frames[i] = frame.Jpeg.ToArray();
            frame.Release();
        }

        _scaled = new ScaledGrayDecoder();
        _full = new JpegDecoder();
        _detector = new MotionDetector(new MotionOptions());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _scaled.Dispose();
        _full.Dispose();
    }

    [Benchmark(Description = "analyse one 720p frame (1/8 gray decode + background compare)")]
    public double AnalyseOneFrame()
    {
        _scaled.Decode(_frames[_next++ & 1]);
        _at = _at.AddMilliseconds(200);
        return _detector.Analyse(_scaled.Pixels, _scaled.Width, _scaled.Height, _at).ChangedShare;
    }

    [Benchmark(Baseline = true, Description = "full-size RGB decode of the same frame (anchor)")]
    public int FullSizeDecode() => _full.DecodeRgb(_frames[_next++ & 1], out _, out _).Length;

    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
