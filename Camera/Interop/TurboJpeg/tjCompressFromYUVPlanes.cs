using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    /// <summary>Compresses planar YUV without a colour conversion (the cheapest path for YUYV cameras and the test pattern).</summary>
    [LibraryImport(Library)]
    internal static partial int tjCompressFromYUVPlanes(nint handle, byte** srcPlanes, int width, int* strides, int height,
        int subsamp, byte** jpegBuf, nuint* jpegSize, int jpegQual, int flags);
}
