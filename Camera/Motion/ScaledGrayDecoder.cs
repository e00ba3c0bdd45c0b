using Camera.Interop;
using Camera.Jpeg;

namespace Camera.Motion;

/// <summary>
/// Decodes a JPEG straight to a small grayscale image with libturbojpeg's scaled decode: asking tjDecompress2 for
/// 1/8 of the size makes libjpeg-turbo do a DC-only inverse DCT (one value per 8x8 block, already an average, which
/// also smooths sensor noise), and asking for gray skips the colour planes' IDCT and colour conversion. The pixel
/// buffer is reused from frame to frame.
/// </summary>
public sealed unsafe class ScaledGrayDecoder : IDisposable
{
    /// <summary>The smallest width analysed: the coarsest of 1/8, 1/4, 1/2, 1/1 that keeps at least this many columns.</summary>
    public const int MinimumWidth = 160;

    private nint _handle;
    private byte[] _pixels = [];

    public ScaledGrayDecoder()
    {
        TurboJpeg.EnsureAvailable();
        _handle = TurboJpegNative.tjInitDecompress();
        if (_handle == 0)
        {
            throw new FrameSourceException("libturbojpeg could not create a decompressor.");
        }
    }

    public int Width { get; private set; }

    public int Height { get; private set; }

    /// <summary>The last decoded image, <see cref="Width"/> x <see cref="Height"/>, one byte per pixel.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels.AsSpan(0, Width * Height);

    /// <summary>The scale divisor (1, 2, 4 or 8) for a frame of this width.</summary>
    public static int Divisor(int width)
    {
        foreach (var divisor in (ReadOnlySpan<int>)[8, 4, 2])
        {
            if ((width + divisor - 1) / divisor >= MinimumWidth)
            {
                return divisor;
            }
        }

        return 1;
    }

    /// <summary>Decodes <paramref name="jpeg"/>; throws <see cref="InvalidDataException"/> with libturbojpeg's reason.</summary>
    public void Decode(ReadOnlySpan<byte> jpeg)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        int width, height, subsamp, colorspace;
        fixed (byte* source = jpeg)
        {
            if (TurboJpegNative.tjDecompressHeader3(_handle, source, (nuint)jpeg.Length, &width, &height, &subsamp, &colorspace) != 0)
            {
                throw new InvalidDataException($"Not a JPEG: {TurboJpeg.LastError(_handle)}");
            }

            // TJSCALED: libturbojpeg picks the largest scaling factor whose result fits the size asked for.
            var divisor = Divisor(width);
            var scaledWidth = (width + divisor - 1) / divisor;
            var scaledHeight = (height + divisor - 1) / divisor;
            if (_pixels.Length < scaledWidth * scaledHeight)
            {
                _pixels = new byte[scaledWidth * scaledHeight];
            }

            fixed (byte* destination = _pixels)
            {
                if (TurboJpegNative.tjDecompress2(_handle, source, (nuint)jpeg.Length, destination, scaledWidth, scaledWidth,
                        scaledHeight, TurboJpegNative.PixelFormatGray, TurboJpegNative.FlagFastDct) != 0)
                {
                    Width = Height = 0;
                    throw new InvalidDataException($"JPEG decoding failed: {TurboJpeg.LastError(_handle)}");
                }
            }

            Width = scaledWidth;
            Height = scaledHeight;
        }
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
