using System.IO.Pipelines;
using System.Text;
using Relay.Streaming;

namespace Relay.Tests.Streaming;

/// <summary>The relay's reader of the appliance's MJPEG stream, fed bytes a few at a time as a slow tunnel would.</summary>
public sealed class MjpegPartReaderTests
{
    [Fact]
    public async Task Parts_ArrivingInSmallPieces_EachJpegWithItsTimestamp()
    {
        var stream = "preamble\r\n--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\nX-Timestamp: 12.5\r\n\r\nJPEG1\r\n"
            + "--frame\r\ncontent-length:3\r\nX-Ignored: yes\r\n\r\nJP2\r\n--frame\r\n";

        var parts = await ReadAllAsync(stream, "frame");

        Assert.Equal([("JPEG1", "12.5"), ("JP2", null)], parts);
    }

    [Fact]
    public async Task Part_WithoutContentLength_RefusedAsInvalidData()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync("--frame\r\nContent-Type: image/jpeg\r\n\r\nJPEG", "frame"));
        Assert.Contains("no Content-Length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeaderLine_Over8KiB_RefusedAsInvalidData()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync("--frame\r\nX-Long: " + new string('a', 9000), "frame"));
        Assert.Contains("too long", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_WithoutItsBoundaryIn16MiB_RefusedAsInvalidData()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(new string('x', (16 * 1024 * 1024) + 1), "frame", pieceBytes: 1024 * 1024));
        Assert.Contains("No MJPEG boundary", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("multipart/x-mixed-replace; boundary=frame", "frame")]
    [InlineData("multipart/x-mixed-replace;Boundary=\"boundarydonotcross\"; charset=x", "boundarydonotcross")]
    [InlineData("multipart/x-mixed-replace", null)]
    [InlineData(null, null)]
    public void BoundaryOf_ContentType_NamesItsBoundary(string? contentType, string? boundary) =>
        Assert.Equal(boundary, MjpegPartReader.BoundaryOf(contentType));

    private static async Task<List<(string Jpeg, string? Timestamp)>> ReadAllAsync(string stream, string boundary, int pieceBytes = 7)
    {
        var parts = new List<(string, string?)>();
        var trickle = new TrickleStream(Encoding.ASCII.GetBytes(stream), pieceBytes);
        var reader = PipeReader.Create(trickle, new StreamPipeReaderOptions(bufferSize: pieceBytes, minimumReadSize: 1));
        await MjpegPartReader.ReadAsync(reader, boundary, (jpeg, timestamp) => parts.Add((Encoding.ASCII.GetString(jpeg), timestamp)), CancellationToken.None);
        return parts;
    }

    /// <summary>Gives at most <paramref name="pieceBytes"/> a read, so parts, headers and boundaries arrive split.</summary>
    private sealed class TrickleStream(byte[] bytes, int pieceBytes) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, pieceBytes)], cancellationToken);
    }
}
