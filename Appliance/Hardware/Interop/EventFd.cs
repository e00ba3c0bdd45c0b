using Tmds.Linux;

namespace Appliance.Hardware.Interop;

/// <summary>An eventfd that wakes a thread blocked in poll() (Tmds.LibC's eventfd, read and write).</summary>
internal static unsafe class EventFd
{
    /// <summary>A close-on-exec, non-blocking eventfd. Throws <see cref="IOException"/> when the kernel refuses.</summary>
    public static int Create()
    {
        var fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        return fd >= 0 ? fd : throw new IOException($"eventfd failed: errno {LibC.errno}.");
    }

    /// <summary>Adds one to the counter: poll() sees the fd readable.</summary>
    public static void Signal(int fd)
    {
        ulong one = 1;
        _ = LibC.write(fd, &one, sizeof(ulong));
    }

    /// <summary>Resets the counter (non-blocking: nothing to read is fine).</summary>
    public static void Drain(int fd)
    {
        ulong value;
        _ = LibC.read(fd, &value, sizeof(ulong));
    }
}
