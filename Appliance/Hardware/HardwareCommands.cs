using Camera.V4l2;

namespace Appliance.Hardware;

/// <summary>The <c>cameras</c> sub-command (the doctor prints the same listing).</summary>
public static class HardwareCommands
{
    /// <summary>Every V4L2 capture device with formats, sizes and intervals, like <c>v4l2-ctl --list-formats-ext</c>.</summary>
    public static string DescribeCameras() => V4l2Devices.Describe(V4l2Devices.Enumerate());

    /// <summary>Prints the listing; exit status 1 when there is no capture device.</summary>
    public static int Cameras(string[] args)
    {
        var devices = V4l2Devices.Enumerate();
        Console.Write(V4l2Devices.Describe(devices));
        return devices.Count > 0 ? ExitCodes.Success : ExitCodes.Failure;
    }
}
