using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    /// <summary>Compresses packed pixels; with TJFLAG_NOREALLOC the caller owns <paramref name="jpegBuf"/>.</summary>
    [LibraryImport(Library)]
    internal static partial int tjCompress2(nint handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat,
        byte** jpegBuf, nuint* jpegSize, int jpegSubsamp, int jpegQual, int flags);
}
