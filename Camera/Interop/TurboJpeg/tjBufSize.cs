using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    /// <summary>The worst-case JPEG size for an image, so a NOREALLOC buffer can never overflow.</summary>
    [LibraryImport(Library)]
    internal static partial nuint tjBufSize(int width, int height, int jpegSubsamp);
}
