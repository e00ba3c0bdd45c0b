using System.Buffers;
using Camera.Interop;

namespace Camera.Jpeg;

/// <summary>
/// Encodes raw images to JPEG with libturbojpeg into a reused worst-case scratch buffer, then copies the result once
/// into an exactly sized pooled <see cref="Frame"/>. Not thread-safe: one per capture thread.
/// </summary>
public sealed unsafe class JpegEncoder : IDisposable
{
    private nint _handle;
    private byte[] _scratch = [];

    public JpegEncoder(int quality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        Quality = quality;
        TurboJpeg.EnsureAvailable();
        _handle = TurboJpegNative.tjInitCompress();
        if (_handle == 0)
        {
            throw new FrameSourceException("libturbojpeg could not create a compressor.");
        }
    }

    public int Quality { get; }

    /// <summary>Encodes planar YUV (Y, U, V planes with their strides) with the given chroma subsampling.</summary>
    public Frame EncodeYuvPlanes(
        ReadOnlySpan<byte> y, int yStride, ReadOnlySpan<byte> u, ReadOnlySpan<byte> v, int chromaStride,
        int width, int height, ChromaSubsampling subsampling, DateTimeOffset capturedAt)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        var subsamp = (int)subsampling;
        EnsureScratch(width, height, subsamp);
        fixed (byte* py = y)
        fixed (byte* pu = u)
        fixed (byte* pv = v)
        fixed (byte* output = _scratch)
        {
            var planes = stackalloc byte*[3] { py, pu, pv };
            var strides = stackalloc int[3] { yStride, chromaStride, chromaStride };
            var outputPointer = output;
            nuint size = (nuint)_scratch.Length;
            var rc = TurboJpegNative.tjCompressFromYUVPlanes(
                _handle, planes, width, strides, height, subsamp, &outputPointer, &size, Quality,
                TurboJpegNative.FlagNoRealloc | TurboJpegNative.FlagFastDct);
            if (rc != 0)
            {
                throw new InvalidOperationException($"JPEG encoding failed: {TurboJpeg.LastError(_handle)}");
            }

            return Frame.Create(_scratch.AsSpan(0, (int)size), width, height, capturedAt);
        }
    }

    /// <summary>Encodes packed 8-bit RGB.</summary>
    public Frame EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height, DateTimeOffset capturedAt)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(rgb.Length, width * height * 3);
        EnsureScratch(width, height, TurboJpegNative.Subsampling420);
        fixed (byte* input = rgb)
        fixed (byte* output = _scratch)
        {
            var outputPointer = output;
            nuint size = (nuint)_scratch.Length;
            var rc = TurboJpegNative.tjCompress2(
                _handle, input, width, width * 3, height, TurboJpegNative.PixelFormatRgb, &outputPointer, &size,
                TurboJpegNative.Subsampling420, Quality, TurboJpegNative.FlagNoRealloc | TurboJpegNative.FlagFastDct);
            if (rc != 0)
            {
                throw new InvalidOperationException($"JPEG encoding failed: {TurboJpeg.LastError(_handle)}");
            }

            return Frame.Create(_scratch.AsSpan(0, (int)size), width, height, capturedAt);
        }
    }

    private void EnsureScratch(int width, int height, int subsamp)
    {
        var needed = checked((int)TurboJpegNative.tjBufSize(width, height, subsamp));
        if (_scratch.Length < needed)
        {
            _scratch = GC.AllocateUninitializedArray<byte>(needed);
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

/// <summary>Chroma subsampling, numbered as libturbojpeg's TJSAMP values.</summary>
public enum ChromaSubsampling
{
    Yuv444 = 0,
    Yuv422 = 1,
    Yuv420 = 2,
    Gray = 3,
}
