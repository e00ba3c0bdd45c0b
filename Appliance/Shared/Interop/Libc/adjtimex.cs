using System.Runtime.InteropServices;

namespace Appliance.Interop;

public static unsafe partial class Libc
{
    /// <summary>With a zeroed struct timex (modes 0) it only reads; returns the clock state, TIME_ERROR (5) when unsynchronized.</summary>
    /// <remarks>Our own import: Tmds.LibC 0.5.0, which the other libc calls go through, has no adjtimex (nor struct timex).</remarks>
    [LibraryImport(Library, SetLastError = true)]
    public static partial int adjtimex(void* timex);
}
