using System.Runtime.InteropServices;

namespace Appliance.Interop;

public static unsafe partial class Libc
{
    /// <summary>The calling thread's CPU time (user + system), in nanoseconds resolution.</summary>
    public const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    /// <summary>struct timespec on 64-bit Linux (time_t and long are both 64 bits on x64 and arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>clock_gettime(2); 0, or -1 with errno.</summary>
    /// <remarks>Our own import: Tmds.LibC 0.5.0 has no clock_gettime.</remarks>
    [LibraryImport(Library, SetLastError = true)]
    public static partial int clock_gettime(int clockId, TimeSpec* time);

    /// <summary>The calling thread's CPU time in nanoseconds, or -1 when the kernel cannot say.</summary>
    public static long ThreadCpuNanoseconds()
    {
        TimeSpec time;
        return clock_gettime(ClockThreadCpuTime, &time) == 0 ? (time.Seconds * 1_000_000_000L) + time.Nanoseconds : -1;
    }
}
