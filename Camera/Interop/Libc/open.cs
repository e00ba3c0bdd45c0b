using System.Runtime.InteropServices;

namespace Camera.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int open(string path, int flags);
}
