using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, SetLastError = true)]
    internal static partial nint write(int fd, void* buffer, nuint count);
}
