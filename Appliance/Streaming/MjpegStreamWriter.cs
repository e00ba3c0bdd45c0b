using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using Camera;

namespace Appliance.Streaming;

/// <summary>
/// Writes frames as <c>multipart/x-mixed-replace</c> parts straight into the response pipe. Each part ends with the
/// next boundary, because Chromium paints a frame only when the next part begins.
/// </summary>
internal static class MjpegStreamWriter
{
    public const string Boundary = "frame";
    public const string ContentType = "multipart/x-mixed-replace; boundary=" + Boundary;

    private static ReadOnlySpan<byte> FirstBoundary => "--frame\r\n"u8;

    private static ReadOnlySpan<byte> NextBoundary => "\r\n--frame\r\n"u8;

    public static void WriteFirstBoundary(PipeWriter writer) => writer.Write(FirstBoundary);

    /// <summary>Part headers, the JPEG and the following boundary; the caller flushes.</summary>
    public static void WritePart(PipeWriter writer, Frame frame)
    {
        var headers = writer.GetSpan(160);
        var written = 0;
        written += Copy("Content-Type: image/jpeg\r\nContent-Length: "u8, headers[written..]);
        Utf8Formatter.TryFormat(frame.Length, headers[written..], out var n);
        written += n;
        written += Copy("\r\nX-Timestamp: "u8, headers[written..]);
        var millis = frame.CapturedAt.ToUnixTimeMilliseconds();
        Utf8Formatter.TryFormat(millis / 1000, headers[written..], out n);
        written += n;
        headers[written++] = (byte)'.';
        Utf8Formatter.TryFormat(millis % 1000, headers[written..], out n, new StandardFormat('D', 3));
        written += n;
        written += Copy("\r\n\r\n"u8, headers[written..]);
        writer.Advance(written);
        writer.Write(frame.Jpeg.Span);
        writer.Write(NextBoundary);
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

}
