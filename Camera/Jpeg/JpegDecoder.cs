using Camera.Interop;

namespace Camera.Jpeg;

/// <summary>Reads JPEG headers and decodes JPEGs with libturbojpeg (snapshots, tests, clip checks).</summary>
public sealed unsafe class JpegDecoder : IDisposable
{
    private nint _handle;

    public JpegDecoder()
    {
        TurboJpeg.EnsureAvailable();
        _handle = TurboJpegNative.tjInitDecompress();
        if (_handle == 0)
        {
            throw new FrameSourceException("libturbojpeg could not create a decompressor.");
        }
    }

    /// <summary>The image size, or null when the data is not a decodable JPEG header.</summary>
    public (int Width, int Height)? ReadSize(ReadOnlySpan<byte> jpeg)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        int width, height, subsamp, colorspace;
        fixed (byte* p = jpeg)
        {
            var rc = TurboJpegNative.tjDecompressHeader3(_handle, p, (nuint)jpeg.Length, &width, &height, &subsamp, &colorspace);
            return rc == 0 ? (width, height) : null;
        }
    }

    /// <summary>Decodes to packed RGB. Throws <see cref="InvalidDataException"/> with libturbojpeg's reason on failure.</summary>
    public byte[] DecodeRgb(ReadOnlySpan<byte> jpeg, out int width, out int height)
    {
        var size = ReadSize(jpeg) ?? throw new InvalidDataException($"Not a JPEG: {TurboJpeg.LastError(_handle)}");
        width = size.Width;
        height = size.Height;
        var rgb = new byte[width * height * 3];
        fixed (byte* p = jpeg)
        fixed (byte* dst = rgb)
        {
            var rc = TurboJpegNative.tjDecompress2(_handle, p, (nuint)jpeg.Length, dst, width, width * 3, height, TurboJpegNative.PixelFormatRgb, 0);
            if (rc != 0)
            {
                throw new InvalidDataException($"JPEG decoding failed: {TurboJpeg.LastError(_handle)}");
            }
        }

        return rgb;
    }

    public void Dispose()
    {
        var handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            _ = TurboJpegNative.tjDestroy(handle);
        }
    }
}
