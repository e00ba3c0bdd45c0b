using System.Runtime.InteropServices;
using Appliance.Interop;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;

namespace Appliance.Hosting;

/// <summary>fsync for the state files: what the appliance must still know after a power cut (a Pi's usual way to stop).</summary>
internal static class DiskSync
{
    /// <summary>
    /// Waits until what was written to <paramref name="handle"/> is on the disk. Callers at the same moment share the
    /// file system's journal commit (ext4 makes one for all who wait), so a burst of messages pays about one sync.
    /// </summary>
    public static void File(SafeFileHandle handle, string path)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (LibC.fsync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"cannot sync {path} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Puts a directory's entries on the disk, so a file just created or renamed in it is still there after a power cut.
    /// A file system that cannot sync a directory (EINVAL) is left as it is.
    /// </summary>
    public static void Directory(string path)
    {
        var fd = Libc.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"cannot open {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (LibC.fsync(fd) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != LibC.EINVAL)
            {
                throw new IOException($"cannot sync {path} (errno {errno})");
            }
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }
}
