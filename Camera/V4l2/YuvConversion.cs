using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Camera.V4l2;

/// <summary>Packed/semi-planar YUV to the planar layout libturbojpeg encodes from, into buffers the caller reuses.</summary>
internal static class YuvConversion
{
    /// <summary>
    /// YUYV (Y0 U Y1 V per pixel pair) to planar 4:2:2: Y width x height, U and V width/2 x height. False, and nothing
    /// converted, when <paramref name="yuyv"/> is shorter than the frame (a driver's bytesused may be).
    /// </summary>
    public static bool TryDeinterleaveYuyv(ReadOnlySpan<byte> yuyv, int bytesPerLine, int width, int height, Span<byte> y, Span<byte> u, Span<byte> v)
    {
        var stride = bytesPerLine > 0 ? bytesPerLine : width * 2;
        var half = width / 2;
        if (height > 0 && yuyv.Length < ((long)(height - 1) * stride) + (width * 2))
        {
            return false;
        }

        for (var row = 0; row < height; row++)
        {
            var source = yuyv.Slice(row * stride, width * 2);
            var yRow = y.Slice(row * width, width);
            var uRow = u.Slice(row * half, half);
            var vRow = v.Slice(row * half, half);
            var i = 0;
            if (Vector128.IsHardwareAccelerated)
            {
                // 16 bytes = 4 pixel pairs per step: one byte shuffle gathers 8 Y, 4 U and 4 V (pshufb / tbl).
                var mask = Vector128.Create((byte)0, 2, 4, 6, 8, 10, 12, 14, 1, 5, 9, 13, 3, 7, 11, 15);
                ref var sourceRef = ref MemoryMarshal.GetReference(source);
                for (; i + 4 <= half; i += 4)
                {
                    var gathered = Vector128.Shuffle(Vector128.LoadUnsafe(ref sourceRef, (nuint)(i * 4)), mask);
                    Unsafe.WriteUnaligned(ref yRow[2 * i], gathered.AsUInt64().GetElement(0));
                    Unsafe.WriteUnaligned(ref uRow[i], gathered.AsUInt32().GetElement(2));
                    Unsafe.WriteUnaligned(ref vRow[i], gathered.AsUInt32().GetElement(3));
                }
            }

            for (var s = i * 4; i < half; i++, s += 4)
            {
                yRow[2 * i] = source[s];
                uRow[i] = source[s + 1];
                yRow[(2 * i) + 1] = source[s + 2];
                vRow[i] = source[s + 3];
            }
        }

        return true;
    }

    /// <summary>
    /// NV12 (Y plane, then interleaved UV at half height) to planar 4:2:0. False, and nothing converted, when
    /// <paramref name="nv12"/> is shorter than the frame.
    /// </summary>
    public static bool TrySplitNv12(ReadOnlySpan<byte> nv12, int bytesPerLine, int width, int height, Span<byte> y, Span<byte> u, Span<byte> v)
    {
        var stride = bytesPerLine > 0 ? bytesPerLine : width;
        var half = width / 2;
        if (height >= 2 && nv12.Length < ((long)stride * height) + ((long)((height / 2) - 1) * stride) + width)
        {
            return false;
        }

        for (var row = 0; row < height; row++)
        {
            nv12.Slice(row * stride, width).CopyTo(y.Slice(row * width, width));
        }

        var uv = nv12[(stride * height)..];
        for (var row = 0; row < height / 2; row++)
        {
            var source = uv.Slice(row * stride, width);
            for (var i = 0; i < half; i++)
            {
                u[(row * half) + i] = source[2 * i];
                v[(row * half) + i] = source[(2 * i) + 1];
            }
        }

        return true;
    }
}
