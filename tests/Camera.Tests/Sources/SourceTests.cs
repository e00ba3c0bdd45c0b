using Camera.Jpeg;
using Camera.Sources;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Camera.Tests.Sources;

public sealed class SourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("camera-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Synthetic_ReadFrame_ProducesConfiguredSizeAndChangesOverTime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var source = new SyntheticSource(new CameraOptions { Width = 320, Height = 240, Quality = 70 }, time);
        source.Open(CancellationToken.None);

        var first = source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!;
        time.Advance(TimeSpan.FromMilliseconds(1500));
        var second = source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!;

        using var decoder = new JpegDecoder();
        var a = decoder.DecodeRgb(first.Jpeg.Span, out var w, out var h);
        var b = decoder.DecodeRgb(second.Jpeg.Span, out _, out _);
        Assert.Equal((320, 240), (w, h));
        Assert.Null(JpegMarkers.Validate(first.Jpeg.Span));
        // The clock and the moving box change a noticeable share of the picture.
        var changed = Enumerable.Range(0, a.Length).Count(i => Math.Abs(a[i] - b[i]) > 40);
        Assert.True(changed > a.Length / 100, $"only {changed} of {a.Length} samples changed");
        Assert.Equal(time.GetUtcNow().AddMilliseconds(0), second.CapturedAt);
        first.Release();
        second.Release();
    }

    [Fact]
    public void File_MjpegFile_ReplaysFramesInALoop()
    {
        var frames = Enumerable.Range(0, 3).Select(i => TestJpegs.Make(64, 48, seed: i)).ToArray();
        var path = Path.Combine(_dir, "clip.mjpeg");
        File.WriteAllBytes(path, frames.SelectMany(f => f).ToArray());
        using var source = new FileSource(new CameraOptions { Source = "file", File = path });
        source.Open(CancellationToken.None); // consumes frame 0 to learn the size
        Assert.Equal((64, 48), (source.Width, source.Height));

        var seen = Enumerable.Range(0, 5).Select(_ =>
        {
            var f = source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!;
            var bytes = f.Jpeg.ToArray();
            f.Release();
            return bytes;
        }).ToArray();

        Assert.Equal([frames[1], frames[2], frames[0], frames[1], frames[2]], seen);
    }

    [Fact]
    public void File_DirectoryWithSomeBadFiles_SkipsThemAndCounts()
    {
        File.WriteAllBytes(Path.Combine(_dir, "a.jpg"), TestJpegs.Make(seed: 1));
        File.WriteAllBytes(Path.Combine(_dir, "b.jpg"), [0xFF, 0xD8, 1, 2, 3]);
        File.WriteAllBytes(Path.Combine(_dir, "c.jpeg"), TestJpegs.Make(seed: 3));
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "not an image");
        using var source = new FileSource(new CameraOptions { Source = "file", File = _dir });
        source.Open(CancellationToken.None);

        for (var i = 0; i < 4; i++)
        {
            source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!.Release();
        }

        Assert.True(source.InvalidFrames >= 2);
    }

    [Fact]
    public void File_ImageThatCannotBeOpened_IsSkippedAndCounted()
    {
        File.WriteAllBytes(Path.Combine(_dir, "a.jpg"), TestJpegs.Make(seed: 1));
        File.WriteAllBytes(Path.Combine(_dir, "b.jpg"), TestJpegs.Make(seed: 2));
        using var source = new FileSource(new CameraOptions { Source = "file", File = _dir });
        source.Open(CancellationToken.None);

        // Opening a directory is an UnauthorizedAccessException, as a file without read permission is (which the
        // tests, often run as root, cannot make).
        File.Delete(Path.Combine(_dir, "b.jpg"));
        Directory.CreateDirectory(Path.Combine(_dir, "b.jpg"));
        Assert.Throws<UnauthorizedAccessException>(() => File.OpenRead(Path.Combine(_dir, "b.jpg")).Dispose());

        for (var i = 0; i < 3; i++)
        {
            source.ReadFrame(TimeSpan.Zero, CancellationToken.None)!.Release();
        }

        Assert.True(source.InvalidFrames >= 1);
    }

    [Fact]
    public void File_NoValidJpeg_OpenFailsWithReason()
    {
        var path = Path.Combine(_dir, "junk.mjpeg");
        File.WriteAllBytes(path, new byte[10_000]);
        using var source = new FileSource(new CameraOptions { Source = "file", File = path });
        var ex = Assert.Throws<FrameSourceException>(() => source.Open(CancellationToken.None));
        Assert.Contains("no valid JPEG", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rpicam_CommandWritingMjpeg_DeliversFrames()
    {
        var path = Path.Combine(_dir, "cam.mjpeg");
        File.WriteAllBytes(path, Enumerable.Range(0, 20).SelectMany(i => TestJpegs.Make(64, 48, seed: i)).ToArray());
        using var source = new RpicamSource(new CameraOptions { Source = "rpicam", Command = $"cat '{path}'; sleep 5" }, NullLogger<RpicamSource>.Instance);
        source.Open(CancellationToken.None);
        var frame = source.ReadFrame(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(frame);
        Assert.Equal((64, 48), (frame.Width, frame.Height));
        frame.Release();
    }

    [Fact]
    public void Rpicam_ProcessDies_ReadFrameThrowsWithExitCodeAndStderr()
    {
        using var source = new RpicamSource(
            new CameraOptions { Source = "rpicam", Command = "echo 'ERROR: no cameras available' >&2; exit 3" }, NullLogger<RpicamSource>.Instance);
        source.Open(CancellationToken.None);
        var ex = Assert.Throws<FrameSourceException>(() =>
        {
            for (var i = 0; i < 10; i++)
            {
                source.ReadFrame(TimeSpan.FromSeconds(1), CancellationToken.None)?.Release();
            }
        });
        Assert.Contains("exit code 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CameraOptions_BadValues_NameEachKey()
    {
        var errors = new CameraOptions { Source = "webcam", Fps = 0, Width = 33, Quality = 101 }.Validate();
        Assert.Contains(errors, e => e.StartsWith("Camera:Source", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Camera:Fps", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Camera:Quality", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("even", StringComparison.Ordinal));
        Assert.Empty(new CameraOptions().Validate());
    }
}
