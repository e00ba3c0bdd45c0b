using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class TurboJpegNative
{
    /// <summary>Creates a compressor handle; null when the library failed.</summary>
    [LibraryImport(Library)]
    internal static partial nint tjInitCompress();
}
