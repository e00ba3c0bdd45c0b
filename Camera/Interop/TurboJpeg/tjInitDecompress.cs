using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    [LibraryImport(Library)]
    internal static partial nint tjInitDecompress();
}
