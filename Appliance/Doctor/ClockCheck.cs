using System.Globalization;
using System.Runtime.InteropServices;
using Appliance.Interop;

namespace Appliance.Doctor;

/// <summary>
/// The system clock and time zone. A Pi has no real-time clock: until NTP syncs, its time is what it saved last (hours
/// off after a power cut), and while it is off WeCom callbacks on the LAN are refused as too old or too new and view
/// links last the wrong time. Replies and alerts show times in the system's zone, which is UTC until the household sets theirs.
/// </summary>
internal sealed class ClockCheck(Func<int> kernelClockState, TimeZoneInfo zone, TimeProvider time) : IDoctorCheck
{
    /// <summary>adjtimex's answer when the kernel's clock is not synchronized (TIME_ERROR).</summary>
    internal const int Unsynchronized = 5;

    /// <summary>What an unset zone is called (Debian's default /etc/localtime is Etc/UTC); GMT+0 places are not warned.</summary>
    private static readonly HashSet<string> UtcNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT",
    };

    public ClockCheck()
        : this(ReadKernelClockState, TimeZoneInfo.Local, TimeProvider.System)
    {
    }

    public string Title => "Clock";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = TimeZoneInfo.ConvertTime(time.GetUtcNow(), zone);
        var offset = now.Offset;
        var shown = string.Create(CultureInfo.InvariantCulture,
            $"{now:yyyy-MM-dd HH:mm} {zone.Id} (UTC{(offset < TimeSpan.Zero ? "-" : "+")}{offset:hh\\:mm})");
        var state = kernelClockState();
        if (state < 0)
        {
            return Task.FromResult(DoctorResult.Skip($"the kernel's clock state cannot be read (errno {-state}); {shown}"));
        }

        if (state == Unsynchronized)
        {
            return Task.FromResult(DoctorResult.Warn(
                $"not synchronized (NTP has not set it yet): {shown}",
                "check `timedatectl` (an NTP service such as systemd-timesyncd active, the network up). While the time is off by more than WeCom:MaxClockSkew, WeCom callbacks on the LAN are refused (through a tunnel the relay's clock counts), and view links last the wrong time"));
        }

        if (zone.BaseUtcOffset == TimeSpan.Zero && !zone.SupportsDaylightSavingTime && UtcNames.Contains(zone.Id))
        {
            return Task.FromResult(DoctorResult.Warn(
                $"synchronized, but the time zone is UTC, so replies and alerts show UTC times: {shown}",
                "set the household's zone, e.g. sudo timedatectl set-timezone Asia/Shanghai, then sudo systemctl restart appliance"));
        }

        return Task.FromResult(DoctorResult.Pass($"synchronized; {shown}"));
    }

    /// <summary>adjtimex with a zeroed struct timex (read only): 0–5, or minus the errno.</summary>
    internal static unsafe int ReadKernelClockState()
    {
        // struct timex is 208 bytes on 64-bit Linux (x86_64 and arm64); the buffer leaves room to spare.
        var timex = stackalloc byte[512];
        new Span<byte>(timex, 512).Clear();
        var state = Libc.adjtimex(timex);
        return state >= 0 ? state : -Marshal.GetLastPInvokeError();
    }
}
