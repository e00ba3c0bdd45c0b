using Appliance.Hosting.Systemd;
using Camera;

namespace Appliance.Capture;

/// <summary>
/// Healthy while the capture loop keeps going round (a hung driver call stops its heartbeat). The limit is
/// <c>Systemd:CaptureStallLimit</c>, with the watchdog's other settings.
/// </summary>
internal sealed class CaptureWatchdogHealth(CaptureService capture, SystemdOptions options) : IWatchdogHealth
{
    public string? Problem()
    {
        var since = capture.SinceHeartbeat;
        return since <= options.CaptureStallLimit
            ? null
            : $"capture loop stuck for {since.TotalSeconds:0.0} s (limit Systemd:CaptureStallLimit {options.CaptureStallLimit.TotalSeconds:0} s)";
    }
}
