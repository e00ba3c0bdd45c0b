using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, SetLastError = true)]
    internal static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);
}
