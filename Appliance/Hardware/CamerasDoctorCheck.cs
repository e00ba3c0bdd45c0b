using Appliance.Doctor;
using Camera.V4l2;

namespace Appliance.Hardware;

/// <summary>
/// The doctor's view of V4L2 cameras, from the same enumeration as <c>Appliance cameras</c>. A configured
/// <c>Camera:Device</c> must be a capture device with a format the appliance can use, and so must at least one device
/// otherwise: a failure with <c>Camera:Source=v4l2</c>, a warning with <c>auto</c> (which then falls back to rpicam or
/// synthetic) or another source.
/// </summary>
internal sealed class CamerasDoctorCheck(IConfiguration configuration, Func<IReadOnlyList<V4l2DeviceInfo>>? enumerate = null) : IDoctorCheck
{
    private const int SizesShown = 3;

    public string Title => "V4L2 cameras";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken) => Task.FromResult(Run());

    private DoctorResult Run()
    {
        var source = configuration["Camera:Source"] ?? "auto";
        var required = string.Equals(source, "v4l2", StringComparison.OrdinalIgnoreCase);
        var auto = string.Equals(source, "auto", StringComparison.OrdinalIgnoreCase);
        var configured = configuration["Camera:Device"];
        var devices = (enumerate ?? V4l2Devices.Enumerate)();
        var usable = devices.Where(d => d.Formats.Any(f => V4l2Devices.Supported(f.PixelFormat))).ToList();
        var fallback = auto ? " (Camera:Source=auto falls back to rpicam or synthetic)" : "";
        DoctorResult Problem(string detail, string hint) =>
            required ? DoctorResult.Fail($"Camera:Source is v4l2 but {detail}", hint) : DoctorResult.Warn(detail + fallback, hint);

        if (!string.IsNullOrEmpty(configured))
        {
            var device = devices.FirstOrDefault(d => d.Path == configured) ?? devices.FirstOrDefault(d => d.Path == Resolve(configured));
            if (device is null)
            {
                return File.Exists(configured)
                    ? Problem($"Camera:Device {configured} is not a V4L2 capture device {Environment.UserName} can open",
                        "the service user must be in the 'video' group (the package does this); run 'appliance cameras' for the capture devices")
                    : Problem($"Camera:Device {configured} does not exist", Hint(usable));
            }

            if (!usable.Contains(device))
            {
                return Problem($"Camera:Device {configured} ({device.Card}) offers none of {PreferredList()} (it has {string.Join(", ", device.Formats.Select(f => f.FourCc))})",
                    Hint(usable));
            }

            return DoctorResult.Pass($"Camera:Device {Describe(device)}");
        }

        if (usable.Count > 0)
        {
            return DoctorResult.Pass(string.Join("; ", usable.Select(Describe)));
        }

        if (devices.Count > 0)
        {
            return Problem($"no capture device offers any of {PreferredList()} ({string.Join("; ", devices.Select(d => $"{d.Path} has {string.Join(", ", d.Formats.Select(f => f.FourCc))}"))})",
                "a USB camera (UVC) offers MJPG or YUYV; for a Pi camera module use Camera:Source=rpicam");
        }

        var nodes = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "video*") : [];
        return nodes.Length == 0
            ? Problem("no /dev/video* device", "plug in a USB camera, or use a Pi camera module (rpicam) or Camera:Source=synthetic")
            : Problem($"{string.Join(", ", nodes)} present, but none is a capture device {Environment.UserName} can open",
                "the service user must be in the 'video' group (the package does this); run 'appliance cameras' for details");
    }

    /// <summary>The device with only the formats the appliance can use, a few sizes each.</summary>
    private static string Describe(V4l2DeviceInfo device) =>
        $"{device.Path} {device.Card} ({string.Join(", ", device.Formats.Where(f => V4l2Devices.Supported(f.PixelFormat))
            .Select(f => $"{f.FourCc} {string.Join(' ', f.Sizes.Take(SizesShown).Select(s => $"{s.Width}x{s.Height}"))}{(f.Sizes.Count > SizesShown ? " …" : "")}"))})";

    private static string Hint(List<V4l2DeviceInfo> candidates) =>
        candidates.Count == 0
            ? "plug in a USB camera, or remove Camera:Device; 'Appliance cameras' lists the capture devices"
            : $"set Camera:Device to one of {string.Join(", ", candidates.Select(d => d.Path))}, or remove it to take the first; 'Appliance cameras' lists them";

    private static string PreferredList() => V4l2Devices.PreferredFormatNames;

    /// <summary>/dev/v4l/by-id/… and other links name the /dev/videoN node the enumeration lists.</summary>
    private static string Resolve(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
        catch (UnauthorizedAccessException)
        {
            return path;
        }
    }
}
