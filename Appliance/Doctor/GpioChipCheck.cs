using System.Runtime.InteropServices;
using System.Text;

namespace Appliance.Doctor;

/// <summary>Lists /dev/gpiochip* with label and line count (GPIO_GET_CHIPINFO_IOCTL), or says why one cannot be opened.</summary>
internal sealed partial class GpioChipCheck(string deviceDirectory) : IDoctorCheck
{
    private const uint GetChipInfo = 0x8044B401;
    private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC
    private const int PermissionDenied = 13;

    public string Title => "GPIO chips";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var chips = Directory.Exists(deviceDirectory)
            ? Directory.GetFiles(deviceDirectory, "gpiochip*").Order(StringComparer.Ordinal).ToArray()
            : [];
        if (chips.Length == 0)
        {
            return Task.FromResult(DoctorResult.Warn(
                $"no {deviceDirectory}/gpiochip* (relays, LEDs, PIR and doorbell will be simulated)",
                "on a Pi this means a kernel without the GPIO character device; on a PC it is expected"));
        }

        var found = new List<string>();
        var problems = new List<string>();
        var denied = false;
        foreach (var chip in chips)
        {
            var (info, error) = Describe(chip);
            if (info is not null)
            {
                found.Add(info);
            }
            else
            {
                problems.Add($"{chip}: {error}");
                denied |= error?.Contains("permission", StringComparison.OrdinalIgnoreCase) == true;
            }
        }

        if (problems.Count > 0)
        {
            return Task.FromResult(DoctorResult.Fail(
                string.Join("; ", found.Concat(problems)),
                denied ? "add the user to the gpio group: sudo usermod -aG gpio appliance (the unit file's SupplementaryGroups does this for the service)" : null));
        }

        return Task.FromResult(DoctorResult.Pass(string.Join("; ", found)));
    }

    private static unsafe (string? Info, string? Error) Describe(string path)
    {
        var fd = Open(path, ReadOnlyCloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return (null, errno == PermissionDenied ? $"permission denied for {Environment.UserName}" : Marshal.GetPInvokeErrorMessage(errno));
        }

        try
        {
            var buffer = stackalloc byte[68];
            if (Ioctl(fd, GetChipInfo, buffer) < 0)
            {
                return (null, $"not a GPIO chip ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
            }

            var name = CString(new ReadOnlySpan<byte>(buffer, 32));
            var label = CString(new ReadOnlySpan<byte>(buffer + 32, 32));
            var lines = *(uint*)(buffer + 64);
            return ($"{name} '{label}' {lines} lines", null);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }

    [LibraryImport("libc.so.6", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
