using Camera.Jpeg;

namespace Camera.Tests.Jpeg;

public sealed class MjpegSplitterTests
{
    [Fact]
    public void TryReadFrame_ConcatenatedJpegs_YieldsEachExactly()
    {
        var frames = Enumerable.Range(0, 5).Select(i => TestJpegs.Make(64, 48, seed: i)).ToArray();
        using var splitter = new MjpegSplitter(new MemoryStream(frames.SelectMany(f => f).ToArray()));

        foreach (var expected in frames)
        {
            Assert.True(splitter.TryReadFrame(out var jpeg));
            Assert.Equal(expected, jpeg.ToArray());
        }

        Assert.False(splitter.TryReadFrame(out _));
        Assert.Equal(0, splitter.SkippedBytes);
    }

    [Fact]
    public void TryReadFrame_OneByteReads_YieldsSameFrames()
    {
        var frames = Enumerable.Range(0, 3).Select(i => TestJpegs.Make(80, 60, seed: i)).ToArray();
        using var splitter = new MjpegSplitter(new TrickleStream(frames.SelectMany(f => f).ToArray(), 1));
        foreach (var expected in frames)
        {
            Assert.True(splitter.TryReadFrame(out var jpeg));
            Assert.Equal(expected, jpeg.ToArray());
        }
    }

    [Fact]
    public void TryReadFrame_GarbageBetweenFrames_IsSkipped()
    {
        var a = TestJpegs.Make(seed: 1);
        var b = TestJpegs.Make(seed: 2);
        byte[] garbage = [0x00, 0xFF, 0x12, 0xFF, 0xFF, 0x34, 0xD9, 0xFF];
        using var splitter = new MjpegSplitter(new MemoryStream([.. garbage, .. a, .. garbage, .. b]));

        Assert.True(splitter.TryReadFrame(out var first));
        Assert.Equal(a, first.ToArray());
        Assert.True(splitter.TryReadFrame(out var second));
        Assert.Equal(b, second.ToArray());
        Assert.Equal(2 * garbage.Length, splitter.SkippedBytes);
    }

    [Fact]
    public void TryReadFrame_ThumbnailWithItsOwnEoi_DoesNotEndTheFrameEarly()
    {
        var withThumbnail = TestJpegs.WithEmbeddedThumbnail(TestJpegs.Make(64, 48, 1), TestJpegs.Make(16, 16, 2));
        var next = TestJpegs.Make(seed: 3);
        using var splitter = new MjpegSplitter(new MemoryStream([.. withThumbnail, .. next]));

        Assert.True(splitter.TryReadFrame(out var first));
        Assert.Equal(withThumbnail, first.ToArray());
        Assert.True(splitter.TryReadFrame(out var second));
        Assert.Equal(next, second.ToArray());
    }

    [Fact]
    public void TryReadFrame_TruncatedFrameFollowedByWholeOne_ResynchronisesOnTheNextSoi()
    {
        var cut = TestJpegs.Make(seed: 1);
        var whole = TestJpegs.Make(seed: 2);
        // A camera unplugged mid-frame: the headers survive, the scan is cut, the next frame starts.
        var header = cut[..(TestJpegs.Segments(cut).Last().Offset - 10)];
        using var splitter = new MjpegSplitter(new MemoryStream([.. header, .. whole]));

        Assert.True(splitter.TryReadFrame(out var jpeg));
        Assert.Equal(whole, jpeg.ToArray());
        Assert.False(splitter.TryReadFrame(out _));
    }

    [Fact]
    public void TryReadFrame_TrailingPartialFrame_IsDiscardedAtEnd()
    {
        var whole = TestJpegs.Make(seed: 1);
        var partial = TestJpegs.Make(seed: 2);
        using var splitter = new MjpegSplitter(new MemoryStream([.. whole, .. partial[..(partial.Length - 5)]]));

        Assert.True(splitter.TryReadFrame(out _));
        Assert.False(splitter.TryReadFrame(out _));
        Assert.Equal(partial.Length - 5, splitter.SkippedBytes);
    }

    [Fact]
    public void TryReadFrame_FrameOverTheCap_IsDroppedAndTheNextOneRead()
    {
        var big = TestJpegs.Make(640, 480, seed: 1, quality: 100);
        var small = TestJpegs.Make(32, 32, seed: 2);
        using var splitter = new MjpegSplitter(new TrickleStream([.. big, .. small], 4096), maxFrameLength: big.Length / 2);

        Assert.True(splitter.TryReadFrame(out var jpeg));
        Assert.Equal(small, jpeg.ToArray());
        Assert.Equal(1, splitter.OversizedFrames);
    }

    [Fact]
    public void Rewind_SeekableStream_ReplaysFromStart()
    {
        var frame = TestJpegs.Make();
        using var splitter = new MjpegSplitter(new MemoryStream(frame));
        Assert.True(splitter.TryReadFrame(out _));
        Assert.False(splitter.TryReadFrame(out _));
        splitter.Rewind();
        Assert.True(splitter.TryReadFrame(out var again));
        Assert.Equal(frame, again.ToArray());
    }

    /// <summary>Returns at most <c>chunk</c> bytes per read, like a pipe.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
    }
}
