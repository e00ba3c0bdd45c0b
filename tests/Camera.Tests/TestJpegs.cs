using Camera.Jpeg;

namespace Camera.Tests;

/// <summary>Real JPEGs made with libturbojpeg for the tests, and helpers to take them apart.</summary>
internal static class TestJpegs
{
    /// <summary>A gradient image with some detail, so the entropy data contains FF00 stuffing.</summary>
    public static byte[] Make(int width = 64, int height = 48, int seed = 0, int quality = 90)
    {
        var rgb = new byte[width * height * 3];
        var random = new Random(seed);
        for (var i = 0; i < rgb.Length; i += 3)
        {
            var x = i / 3 % width;
            var y = i / 3 / width;
            rgb[i] = (byte)(x * 255 / width);
            rgb[i + 1] = (byte)(y * 255 / height);
            rgb[i + 2] = (byte)random.Next(256);
        }

        using var encoder = new JpegEncoder(quality);
        var frame = encoder.EncodeRgb(rgb, width, height, DateTimeOffset.UnixEpoch);
        var bytes = frame.Jpeg.ToArray();
        frame.Release();
        return bytes;
    }

    /// <summary>The marker segments before the first scan, as (marker, offset, total length incl. marker).</summary>
    public static List<(byte Marker, int Offset, int Length)> Segments(byte[] jpeg)
    {
        var list = new List<(byte, int, int)>();
        var pos = 2;
        while (pos + 4 <= jpeg.Length)
        {
            var marker = jpeg[pos + 1];
            var length = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
            list.Add((marker, pos, length + 2));
            if (marker == 0xDA)
            {
                break;
            }

            pos += 2 + length;
        }

        return list;
    }

    /// <summary>The same JPEG with every DHT segment cut out, as UVC cameras send it.</summary>
    public static byte[] WithoutHuffmanTables(byte[] jpeg)
    {
        var output = new List<byte>(jpeg.Length);
        var last = 0;
        foreach (var (marker, offset, length) in Segments(jpeg).Where(s => s.Marker == 0xC4))
        {
            output.AddRange(jpeg.AsSpan(last, offset - last).ToArray());
            last = offset + length;
        }

        output.AddRange(jpeg.AsSpan(last).ToArray());
        return [.. output];
    }

    /// <summary>An APP1 (EXIF-like) segment holding a complete embedded JPEG thumbnail, with its own FFD8…FFD9.</summary>
    public static byte[] WithEmbeddedThumbnail(byte[] jpeg, byte[] thumbnail)
    {
        var length = thumbnail.Length + 2;
        var app1 = new byte[] { 0xFF, 0xE1, (byte)(length >> 8), (byte)length }.Concat(thumbnail);
        return [.. jpeg.Take(2), .. app1, .. jpeg.Skip(2)];
    }
}
