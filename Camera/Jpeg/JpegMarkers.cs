namespace Camera.Jpeg;

/// <summary>
/// Checks of a single JPEG image: the structural validation that drops truncated or non-JPEG frames, and the
/// Huffman-table (DHT) insertion that makes UVC cameras' MJPEG frames displayable in Safari and iOS.
/// </summary>
public static class JpegMarkers
{
    /// <summary>Frames shorter than this are treated as junk (UVC cameras emit such fragments on glitches).</summary>
    public const int MinimumFrameLength = 128;

    /// <summary>Why a frame is not a usable JPEG, or null when it is.</summary>
    public static string? Validate(ReadOnlySpan<byte> jpeg)
    {
        if (jpeg.Length < MinimumFrameLength)
        {
            return $"too short ({jpeg.Length} bytes)";
        }

        if (jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            return "does not start with SOI (FFD8)";
        }

        if (jpeg[^2] != 0xFF || jpeg[^1] != 0xD9)
        {
            return "truncated: does not end with EOI (FFD9)";
        }

        return Scan(jpeg).Error;
    }

    /// <summary>True when a DHT segment precedes the first scan.</summary>
    public static bool HasHuffmanTables(ReadOnlySpan<byte> jpeg) => Scan(jpeg).HuffmanTableAt >= 0;

    /// <summary>Width and height from the first SOF segment, or null.</summary>
    public static (int Width, int Height)? ReadSize(ReadOnlySpan<byte> jpeg)
    {
        var scan = Scan(jpeg);
        if (scan.FrameHeaderAt < 0 || scan.FrameHeaderAt + 9 > jpeg.Length)
        {
            return null;
        }

        var sof = jpeg[scan.FrameHeaderAt..];
        var height = (sof[5] << 8) | sof[6];
        var width = (sof[7] << 8) | sof[8];
        return (width, height);
    }

    /// <summary>
    /// Validates <paramref name="jpeg"/> and copies it into a pooled frame, inserting the standard Huffman tables
    /// when it has none. Returns null with a reason when the frame must be dropped.
    /// </summary>
    public static Frame? ToFrame(ReadOnlySpan<byte> jpeg, DateTimeOffset capturedAt, out string? dropReason)
    {
        dropReason = Validate(jpeg);
        if (dropReason is not null)
        {
            return null;
        }

        var scan = Scan(jpeg);
        var size = ReadSize(jpeg);
        if (size is not { } wh || wh.Width == 0 || wh.Height == 0)
        {
            dropReason = "no frame header (SOF) with a size";
            return null;
        }

        if (scan.HuffmanTableAt >= 0)
        {
            return Frame.Create(jpeg, wh.Width, wh.Height, capturedAt);
        }

        // Insert before the first SOF (the reference point mjpg-streamer and µStreamer use).
        var at = scan.FrameHeaderAt;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(jpeg.Length + StandardHuffmanTables.Segment.Length);
        jpeg[..at].CopyTo(buffer);
        StandardHuffmanTables.Segment.CopyTo(buffer.AsSpan(at));
        jpeg[at..].CopyTo(buffer.AsSpan(at + StandardHuffmanTables.Segment.Length));
        return Frame.FromPooledBuffer(buffer, jpeg.Length + StandardHuffmanTables.Segment.Length, wh.Width, wh.Height, capturedAt);
    }

    private readonly record struct ScanResult(int FrameHeaderAt, int HuffmanTableAt, string? Error);

    /// <summary>Walks the marker segments from SOI up to the first SOS.</summary>
    private static ScanResult Scan(ReadOnlySpan<byte> jpeg)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            return new(-1, -1, "does not start with SOI (FFD8)");
        }

        var frameHeader = -1;
        var huffman = -1;
        var pos = 2;
        while (true)
        {
            if (pos + 1 >= jpeg.Length)
            {
                return new(frameHeader, huffman, "truncated before the first scan (SOS)");
            }

            if (jpeg[pos] != 0xFF)
            {
                return new(frameHeader, huffman, $"corrupt marker structure at byte {pos}");
            }

            var marker = jpeg[pos + 1];
            if (marker == 0xFF)
            {
                pos++; // fill byte
                continue;
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                pos += 2; // standalone marker
                continue;
            }

            if (pos + 3 >= jpeg.Length)
            {
                return new(frameHeader, huffman, "truncated segment header");
            }

            var length = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
            if (length < 2 || pos + 2 + length > jpeg.Length)
            {
                return new(frameHeader, huffman, $"segment FF{marker:X2} at byte {pos} overruns the frame");
            }

            switch (marker)
            {
                case 0xDA:
                    return frameHeader < 0
                        ? new(frameHeader, huffman, "scan (SOS) before any frame header (SOF)")
                        : new(frameHeader, huffman, null);
                case 0xC4:
                    huffman = huffman < 0 ? pos : huffman;
                    break;
                case >= 0xC0 and <= 0xCF when marker is not (0xC4 or 0xC8 or 0xCC):
                    frameHeader = frameHeader < 0 ? pos : frameHeader;
                    break;
                case 0xD9:
                    return new(frameHeader, huffman, "EOI before the first scan");
            }

            pos += 2 + length;
        }
    }
}
