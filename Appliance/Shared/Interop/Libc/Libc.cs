using System.Text;
using Tmds.Linux;

namespace Appliance.Interop;

/// <summary>
/// What the device drivers (V4L2 in Camera; GPIO and I2C in the appliance), the state files and the doctor add to
/// Tmds.LibC's bindings (<see cref="LibC"/>: open, close, read, write, ioctl, mmap, munmap, poll, fsync, eventfd …):
/// ioctl numbers built like the kernel's _IOC, ioctl retried on EINTR, open with a .NET string, errno in words, and
/// the one call Tmds.LibC 0.5.0 lacks (adjtimex, in its own file). Public, in the shared project, because Camera and
/// the appliance both call it.
/// </summary>
public static unsafe partial class Libc
{
    /// <summary>"libc.so.6", not "libc": with the latter the first call returned a bogus errno (the runtime probes a linker script).</summary>
    public const string Library = "libc.so.6";

    /// <summary>An ioctl number: dir(2) | size(14) | type(8) | nr(8), as the kernel's _IOC macro builds it.</summary>
    public static uint Ioc(uint direction, char type, uint number, int size) =>
        (direction << 30) | ((uint)size << 16) | ((uint)type << 8) | number;

    public static uint IoRead(char type, uint number, int size) => Ioc(2, type, number, size);

    public static uint IoWrite(char type, uint number, int size) => Ioc(1, type, number, size);

    public static uint IoReadWrite(char type, uint number, int size) => Ioc(3, type, number, size);

    /// <summary>ioctl, retried on EINTR; returns the result or -1 with errno in <paramref name="errno"/>.</summary>
    /// <remarks>
    /// Tmds.LibC declares the request as an int; the kernel reads it as an unsigned int (its ioctl syscall takes
    /// <c>unsigned int cmd</c>), so the request's 32 bits pass unchanged, the direction bits included.
    /// </remarks>
    public static int IoctlRetry(int fd, uint request, void* argument, out int errno)
    {
        while (true)
        {
            var result = LibC.ioctl(fd, unchecked((int)request), argument);
            errno = result < 0 ? LibC.errno : 0;
            if (result >= 0 || errno != LibC.EINTR)
            {
                return result;
            }
        }
    }

    /// <summary>open(2) with a path as .NET holds it (Tmds.LibC takes a NUL-terminated UTF-8 pointer); -1 and errno on failure.</summary>
    public static int Open(string path, int flags)
    {
        var length = Encoding.UTF8.GetByteCount(path);
        var bytes = length < 1024 ? stackalloc byte[length + 1] : new byte[length + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        bytes[length] = 0;
        fixed (byte* pointer = bytes)
        {
            return LibC.open(pointer, flags, 0);
        }
    }

    /// <summary>strerror for messages a person reads, e.g. "No such device (ENODEV)".</summary>
    public static string Describe(int errno)
    {
        foreach (var (number, text) in Descriptions)
        {
            if (number == errno)
            {
                return text;
            }
        }

        return $"errno {errno}";
    }

    private static readonly (int Errno, string Text)[] Descriptions =
    [
        (LibC.ENODEV, "No such device (ENODEV)"),
        (LibC.EBUSY, "Device or resource busy (EBUSY)"),
        (LibC.EINVAL, "Invalid argument (EINVAL)"),
        (LibC.EIO, "Input/output error (EIO)"),
        (LibC.ENXIO, "No such device or address (ENXIO)"),
        (LibC.ENOTTY, "Inappropriate ioctl for device (ENOTTY)"),
        (LibC.EAGAIN, "Resource temporarily unavailable (EAGAIN)"),
        (LibC.ENOENT, "No such file or directory (ENOENT)"),
        (LibC.EACCES, "Permission denied (EACCES)"),
    ];
}
