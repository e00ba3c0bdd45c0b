using Appliance.Doctor;
using Appliance.Hardware;
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
}
