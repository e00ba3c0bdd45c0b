namespace Appliance.Hosting.Systemd;

/// <summary>The <c>Systemd</c> configuration section: how the appliance reports to systemd.</summary>
public sealed class SystemdOptions
{
    public const string SectionName = "Systemd";

    /// <summary>
    /// How long the capture loop may go without a heartbeat before the watchdog stops being fed. A healthy loop beats
    /// at least every few seconds (a device read waits up to 2–3 s; opening a camera up to 5 s), so keep it above 10 s
    /// and below the unit's WatchdogSec.
    /// </summary>
    public TimeSpan CaptureStallLimit { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the STATUS= line is refreshed when systemd has no watchdog configured.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(5);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (CaptureStallLimit <= TimeSpan.Zero)
        {
            errors.Add($"Systemd:CaptureStallLimit must be positive (got {CaptureStallLimit}).");
        }

        if (StatusInterval <= TimeSpan.Zero)
        {
            errors.Add($"Systemd:StatusInterval must be positive (got {StatusInterval}).");
        }

        return errors;
    }
}
