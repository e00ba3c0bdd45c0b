using System.Runtime.InteropServices;
using System.Text;
using Appliance.Hardware.Interop;
using Appliance.Interop;
using Tmds.Linux;

namespace Appliance.Doctor;

/// <summary>Lists /dev/gpiochip* with label and line count (GPIO_GET_CHIPINFO_IOCTL), or says why one cannot be opened.</summary>
internal sealed class GpioChipCheck(string deviceDirectory) : IDoctorCheck
{

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
        var fd = Libc.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = LibC.errno;
            return (null, errno == LibC.EACCES ? $"permission denied for {Environment.UserName}" : Marshal.GetPInvokeErrorMessage(errno));
        }

        try
        {
            var buffer = stackalloc byte[sizeof(GpioChipInfo)];
            if (Libc.IoctlRetry(fd, GpioNative.GetChipInfo, buffer, out var errno) < 0)
            {
                return (null, $"not a GPIO chip ({Marshal.GetPInvokeErrorMessage(errno)})");
            }

            var name = CString(new ReadOnlySpan<byte>(buffer, 32));
            var label = CString(new ReadOnlySpan<byte>(buffer + 32, 32));
            var lines = *(uint*)(buffer + 64);
            return ($"{name} '{label}' {lines} lines", null);
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }
}
