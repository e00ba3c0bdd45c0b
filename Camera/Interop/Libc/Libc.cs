namespace Camera.Interop;

/// <summary>
/// The libc calls the device drivers use (V4L2 here; GPIO and I2C in the appliance) and the appliance's state files
/// (fsync of a directory) and the doctor (the clock's sync state), one native call per file.
/// "libc.so.6", not "libc": with the latter the first call returned a bogus errno (the runtime probes a linker script).
/// Flag values are the same on x86_64 and arm64.
/// </summary>
internal static unsafe partial class Libc
{
    internal const string Library = "libc.so.6";

    internal const int ReadOnly = 0x0;
    internal const int ReadWrite = 0x2;
    internal const int NonBlocking = 0x800;
    internal const int CloseOnExec = 0x80000;

    internal const int ProtRead = 0x1;
    internal const int ProtWrite = 0x2;
    internal const int MapShared = 0x1;
    internal static readonly nint MapFailed = -1;

    internal const short PollIn = 0x1;
    internal const short PollErr = 0x8;
    internal const short PollHup = 0x10;
    internal const short PollNval = 0x20;

    internal const int EIntr = 4;
    internal const int EIo = 5;
    internal const int ENxio = 6;
    internal const int EAgain = 11;
    internal const int EBusy = 16;
    internal const int ENoDev = 19;
    internal const int EInval = 22;
    internal const int ENoTty = 25;

    /// <summary>struct pollfd.</summary>
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>An ioctl number: dir(2) | size(14) | type(8) | nr(8), as the kernel's _IOC macro builds it.</summary>
    internal static uint Ioc(uint direction, char type, uint number, int size) =>
        (direction << 30) | ((uint)size << 16) | ((uint)type << 8) | number;

    internal static uint IoRead(char type, uint number, int size) => Ioc(2, type, number, size);

    internal static uint IoWrite(char type, uint number, int size) => Ioc(1, type, number, size);

    internal static uint IoReadWrite(char type, uint number, int size) => Ioc(3, type, number, size);

    /// <summary>ioctl, retried on EINTR; returns the result or -1 with errno in <paramref name="errno"/>.</summary>
    internal static int IoctlRetry(int fd, uint request, void* argument, out int errno)
    {
        while (true)
        {
            var result = ioctl(fd, request, argument);
            errno = result < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
            if (result >= 0 || errno != EIntr)
            {
                return result;
            }
        }
    }

    /// <summary>strerror for messages a person reads, e.g. "No such device".</summary>
    internal static string Describe(int errno) => errno switch
    {
        ENoDev => "No such device (ENODEV)",
        EBusy => "Device or resource busy (EBUSY)",
        EInval => "Invalid argument (EINVAL)",
        EIo => "Input/output error (EIO)",
        ENxio => "No such device or address (ENXIO)",
        ENoTty => "Inappropriate ioctl for device (ENOTTY)",
        EAgain => "Resource temporarily unavailable (EAGAIN)",
        2 => "No such file or directory (ENOENT)",
        13 => "Permission denied (EACCES)",
        _ => $"errno {errno}",
    };
}
