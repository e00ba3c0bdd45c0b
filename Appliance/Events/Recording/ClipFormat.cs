using System.Globalization;
using System.Text;

namespace Appliance.Events.Recording;

/// <summary>One complete JPEG part of a clip file: where the part starts, where its JPEG is, when it was captured.</summary>
internal readonly record struct ClipPart(long Start, long JpegOffset, int JpegLength, DateTimeOffset At)
{
    /// <summary>Just past the part (its JPEG and the CRLF after it).</summary>
    public long End => JpegOffset + JpegLength + 2;
}

/// <summary>
/// The clip file: multipart MJPEG, the same framing as the live stream, one part per frame with its
/// <c>Content-Length</c> and capture time (<c>X-Timestamp</c>, Unix seconds with milliseconds, as mjpg-streamer
/// writes it). It is only ever appended to, so whatever a power cut leaves is every complete part followed by at most
/// one cut one; ffmpeg reads it (<c>-f mpjpeg</c>) and the replay endpoint sends its parts as they are.
/// </summary>
internal static class ClipFormat
{
    public const string Boundary = "appliance-clip";
    public const string StreamContentType = "multipart/x-mixed-replace;boundary=" + Boundary;
    private const int MaxHeaderBytes = 512;
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("--" + Boundary + "\r\n");

    /// <summary>The part header before a JPEG of <paramref name="length"/> bytes captured at <paramref name="at"/>.</summary>
    public static byte[] Header(int length, DateTimeOffset at)
    {
        var ms = at.ToUnixTimeMilliseconds();
        return Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"--{Boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {length}\r\nX-Timestamp: {ms / 1000}.{ms % 1000:000}\r\n\r\n"));
    }

    /// <summary>
    /// The complete parts of a clip, in order; reading stops at the first part that is cut off or not a part (what a
    /// power cut left at the end). Reads only the headers: the JPEGs are skipped.
    /// </summary>
    public static List<ClipPart> ReadParts(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var parts = new List<ClipPart>();
        var header = new byte[MaxHeaderBytes];
        var length = stream.Length;
        long position = 0;
        while (position < length)
        {
            stream.Position = position;
            var read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            var part = ParseHeader(header.AsSpan(0, read), position);
            if (part is not { } p || p.JpegOffset + p.JpegLength > length)
            {
                break;
            }

            parts.Add(p);
            position = Math.Min(p.End, length);
        }

        return parts;
    }

    private static ClipPart? ParseHeader(ReadOnlySpan<byte> bytes, long start)
    {
        if (!bytes.StartsWith(Marker))
        {
            return null;
        }

        var end = bytes.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return null;
        }

        int? contentLength = null;
        DateTimeOffset? at = null;
        foreach (var line in Encoding.ASCII.GetString(bytes[Marker.Length..end]).Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
            {
                contentLength = n;
            }
            else if (name.Equals("X-Timestamp", StringComparison.OrdinalIgnoreCase)
                && decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
            {
                at = DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
            }
        }

        return contentLength is { } l && at is { } t ? new ClipPart(start, start + end + 4, l, t) : null;
    }
}
