using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    [LibraryImport(Library)]
    internal static partial int tjDecompress2(nint handle, byte* jpegBuf, nuint jpegSize, byte* dstBuf, int width, int pitch,
        int height, int pixelFormat, int flags);
}
