using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    [LibraryImport(Library)]
    internal static partial int tjDecompressHeader3(nint handle, byte* jpegBuf, nuint jpegSize, int* width, int* height,
        int* jpegSubsamp, int* jpegColorspace);
}
