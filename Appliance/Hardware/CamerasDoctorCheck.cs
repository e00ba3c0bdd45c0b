using Appliance.Doctor;
using Camera.V4l2;

namespace Appliance.Hardware;

/// <summary>The doctor's view of V4L2 cameras, from the same enumeration as <c>Appliance cameras</c>.</summary>
internal sealed class CamerasDoctorCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "V4L2 cameras";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var source = configuration["Camera:Source"] ?? "auto";
        var required = string.Equals(source, "v4l2", StringComparison.OrdinalIgnoreCase);
        var devices = V4l2Devices.Enumerate();
        if (devices.Count > 0)
        {
            var listing = string.Join("; ", devices.Select(d =>
                $"{d.Path} {d.Card} ({string.Join(", ", d.Formats.Select(f => $"{f.FourCc} {string.Join(' ', f.Sizes.Take(3).Select(s => $"{s.Width}x{s.Height}"))}"))})"));
            return Task.FromResult(DoctorResult.Pass(listing));
        }

        var nodes = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "video*") : [];
        var (detail, hint) = nodes.Length == 0
            ? ("no /dev/video* device", "plug in a USB camera, or use a Pi camera module (rpicam) or Camera:Source=synthetic")
            : ($"{string.Join(", ", nodes)} present, but none is a capture device {Environment.UserName} can open",
                "the service user must be in the 'video' group (install.sh does this); run 'Appliance cameras' for details");
        return Task.FromResult(required ? DoctorResult.Fail($"Camera:Source is v4l2 but {detail}", hint) : DoctorResult.Warn(detail, hint));
    }
}
