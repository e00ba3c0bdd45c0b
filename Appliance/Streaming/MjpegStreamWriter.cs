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

    /// <summary>
    /// Bytes written between flushes. With a small response buffer this bounds what one viewer holds in the server's
    /// buffers to about two slices, however large the frame (a 720p camera frame is 100 KB or more).
    /// </summary>
    public const int SliceLength = 8 * 1024;

    /// <summary>Writes a part (headers, the JPEG, then the next boundary at once), flushing after every slice.</summary>
    public static async ValueTask<bool> WritePartAsync(PipeWriter writer, Frame frame, CancellationToken cancellationToken)
    {
        WritePartHeaders(writer, frame);
        var jpeg = frame.Jpeg;
        while (jpeg.Length > SliceLength)
        {
            writer.Write(jpeg.Span[..SliceLength]);
            jpeg = jpeg[SliceLength..];
            var flush = await writer.FlushAsync(cancellationToken);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                return false;
            }
        }

        writer.Write(jpeg.Span);
        writer.Write(NextBoundary);
        var last = await writer.FlushAsync(cancellationToken);
        return !(last.IsCompleted || last.IsCanceled);
    }

    private static void WritePartHeaders(PipeWriter writer, Frame frame)
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
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

}
