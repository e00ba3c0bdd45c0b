using Appliance.Doctor;
using Appliance.Hardware;
using Camera.V4l2;
using Camera.V4l2.Interop;
using Microsoft.Extensions.Configuration;

namespace Appliance.Tests.Doctor;

/// <summary>On this machine (no cameras; the qemu lane covers a real vivid device) the check warns or fails with a hint.</summary>
public sealed class CamerasDoctorCheckTests
{
    private static Task<DoctorResult> RunAsync(string source) =>
        new CamerasDoctorCheck(new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>("Camera:Source", source)]).Build())
            .RunAsync(CancellationToken.None);

    [Fact]
    public async Task NoCamera_AutoWarns_V4l2Fails_BothWithAHint()
    {
        Assert.True(Camera.V4l2.V4l2Devices.Enumerate().Count == 0, "this test expects a machine without V4L2 capture devices");
        var auto = await RunAsync("auto");
        var v4l2 = await RunAsync("v4l2");

        Assert.Equal(DoctorOutcome.Warn, auto.Outcome);
        Assert.Equal(DoctorOutcome.Fail, v4l2.Outcome);
        Assert.StartsWith("Camera:Source is v4l2 but", v4l2.Detail, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(v4l2.Hint));
    }

    private static readonly V4l2FrameInterval[] Rates = [new(1, 30)];

    private static V4l2FormatInfo Format(uint code, params (int W, int H)[] sizes) =>
        new(code, V4l2Native.FourCc(code), [.. sizes.Select(s => new V4l2FrameSize(s.W, s.H, Rates))]);

    /// <summary>A UVC camera with MJPEG and YUYV, and a capture node offering only Bayer (as an ISP's raw node does).</summary>
    private static readonly V4l2DeviceInfo Webcam = new("/dev/video0", "uvcvideo", "USB Camera", "usb-1", 0x04200001,
        [Format(V4l2Native.PixMjpeg, (1920, 1080), (1280, 720), (640, 480), (320, 240)), Format(V4l2Native.PixYuyv, (640, 480))]);

    private static readonly V4l2DeviceInfo RawOnly = new("/dev/video2", "unicam", "unicam", "platform:unicam", 0x04200001,
        [Format(0x42474752 /* RGGB */, (3280, 2464)), Format(0x30314752 /* RG10 */, (3280, 2464))]);

    private static Task<DoctorResult> RunAsync(string source, string? device, params V4l2DeviceInfo[] devices) =>
        new CamerasDoctorCheck(
            new ConfigurationBuilder().AddInMemoryCollection(
                [new KeyValuePair<string, string?>("Camera:Source", source), new KeyValuePair<string, string?>("Camera:Device", device)]).Build(),
            () => devices).RunAsync(CancellationToken.None);

    [Fact]
    public async Task ConfiguredDeviceMissing_V4l2Fails_AutoWarns_NamingTheKey()
    {
        var v4l2 = await RunAsync("v4l2", "/dev/video9", Webcam);
        var auto = await RunAsync("auto", "/dev/video9", Webcam);

        Assert.Equal(DoctorOutcome.Fail, v4l2.Outcome);
        Assert.Equal("Camera:Source is v4l2 but Camera:Device /dev/video9 does not exist", v4l2.Detail);
        Assert.Contains("/dev/video0", v4l2.Hint, StringComparison.Ordinal);
        Assert.Equal(DoctorOutcome.Warn, auto.Outcome);
        Assert.Equal("Camera:Device /dev/video9 does not exist (Camera:Source=auto falls back to rpicam or synthetic)", auto.Detail);
    }

    [Fact]
    public async Task ConfiguredDeviceWithoutAUsableFormat_V4l2Fails_EvenWhenAnotherDeviceIsUsable()
    {
        var result = await RunAsync("v4l2", "/dev/video2", Webcam, RawOnly);
        Assert.Equal(DoctorOutcome.Fail, result.Outcome);
        Assert.Equal("Camera:Source is v4l2 but Camera:Device /dev/video2 (unicam) offers none of MJPG, JPEG, YUYV, NV12, YU12 (it has RGGB, RG10)", result.Detail);
        Assert.Contains("/dev/video0", result.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoDeviceWithAUsableFormat_V4l2Fails_AutoWarns()
    {
        var v4l2 = await RunAsync("v4l2", null, RawOnly);
        var auto = await RunAsync("auto", null, RawOnly);
        Assert.Equal(DoctorOutcome.Fail, v4l2.Outcome);
        Assert.StartsWith("Camera:Source is v4l2 but no capture device offers any of MJPG, JPEG, YUYV, NV12, YU12 (/dev/video2 has RGGB, RG10)", v4l2.Detail, StringComparison.Ordinal);
        Assert.Equal(DoctorOutcome.Warn, auto.Outcome);
    }

    [Fact]
    public async Task UsableDevices_Pass_ListingOnlySupportedFormatsAndAFewSizes()
    {
        var all = await RunAsync("v4l2", null, RawOnly, Webcam);
        var configured = await RunAsync("v4l2", "/dev/video0", RawOnly, Webcam);

        Assert.Equal(DoctorOutcome.Pass, all.Outcome);
        Assert.Equal("/dev/video0 USB Camera (MJPG 1920x1080 1280x720 640x480 …, YUYV 640x480)", all.Detail);
        Assert.Equal(DoctorOutcome.Pass, configured.Outcome);
        Assert.Equal("Camera:Device /dev/video0 USB Camera (MJPG 1920x1080 1280x720 640x480 …, YUYV 640x480)", configured.Detail);
    }
}
