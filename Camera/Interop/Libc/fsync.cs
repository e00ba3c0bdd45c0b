using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, SetLastError = true)]
    internal static partial int fsync(int fd);
}
