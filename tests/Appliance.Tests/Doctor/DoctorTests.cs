using System.Net;
using System.Net.Sockets;
using Appliance.Doctor;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Doctor;

public sealed class DoctorTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("doctor-state-").FullName;

    static DoctorTests()
    {
        // The server's static constructor points APPLIANCE_CONFIG_DIR at an empty directory.
        _ = ApplianceServer.DefaultSettings;
    }

    [Fact]
    public async Task Run_ValueOutOfRange_FailsNamingKeyAndWhereItWasSet()
    {
        var (exitCode, output) = await RunAsync("--Camera:Fps=500");
        Assert.Equal(1, exitCode);
        Assert.Contains("✗ Configuration: Camera:Fps must be between 1 and 120 (got 500). (set in the command line)", output, StringComparison.Ordinal);

        // The other checks still run on the raw settings.
        Assert.Contains("✓ libturbojpeg: loaded", output, StringComparison.Ordinal);
        Assert.Contains($"✓ State directory: {_state} is writable", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ValidSettings_PassesAndRunsFeatureChecks()
    {
        var (exitCode, output) = await RunAsync();
        Assert.Equal(0, exitCode);
        Assert.Contains("✓ Configuration: valid", output, StringComparison.Ordinal);
        Assert.Contains("– WeCom credentials: WeCom:CorpId and WeCom:Secret are not both set", output, StringComparison.Ordinal);
        Assert.Contains("– Relay: Tunnel:RelayUrl is not set", output, StringComparison.Ordinal);
        Assert.Matches(@"\d+ passed, 0 failed", output);
    }

    [Fact]
    public async Task Run_FeatureCheckFailsOrThrows_ExitsNonZeroAndReportsBoth()
    {
        var (exitCode, output) = await RunAsync(
            b =>
            {
                b.Services.AddSingleton<IDoctorCheck>(new FixedCheck("Cameras (V4L2)", DoctorResult.Fail("no /dev/video*", "plug the camera in")));
                b.Services.AddSingleton<IDoctorCheck>(new ThrowingCheck());
            });
        Assert.Equal(1, exitCode);
        Assert.Contains("✗ Cameras (V4L2): no /dev/video*\n    → plug the camera in", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("✗ Broken: the check itself failed: InvalidOperationException: boom", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_GoodCredentials_Passes()
    {
        await using var wecom = await FakeWeComServer.StartAsync();
        var result = await WeCom(wecom, FakeWeComServer.CorpId, FakeWeComServer.Secret);
        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
        Assert.Single(wecom.Calls);
    }

    [Theory]
    [InlineData("wrong secret", "errcode 40001", "Secret is wrong")]
    [InlineData("unknown corp", "errcode 40013", "CorpId is wrong")]
    [InlineData("untrusted ip", "errcode 60020", "trusted IPs")]
    [InlineData("captive portal", "did not answer with JSON", "WeCom:ApiBaseUrl")]
    [InlineData("http 500", "HTTP 500", "try again")]
    public async Task WeCom_Refused_FailsWithHint(string scenario, string detail, string hint)
    {
        await using var wecom = await FakeWeComServer.StartAsync();
        var (corp, secret) = (FakeWeComServer.CorpId, FakeWeComServer.Secret);
        switch (scenario)
        {
            case "wrong secret":
                secret = "wrong";
                break;
            case "unknown corp":
                corp = "ww-unknown";
                break;
            case "untrusted ip":
                wecom.FailNext("gettoken", 60020);
                break;
            case "captive portal":
                wecom.AnswerNext("gettoken", StatusCodes.Status200OK, "<html>captive portal</html>", "text/html");
                break;
            case "http 500":
                wecom.AnswerNext("gettoken", StatusCodes.Status500InternalServerError, "", "text/plain");
                break;
        }

        var result = await WeCom(wecom, corp, secret);
        Assert.Equal(DoctorOutcome.Fail, result.Outcome);
        Assert.Contains(detail, result.Detail, StringComparison.Ordinal);
        Assert.Contains(hint, result.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_UntrustedIpWithTunnelConfigured_WarnsThatCallsLeaveThroughTheRelay()
    {
        // With a tunnel the appliance's calls leave from the relay's address; only the doctor's own call is refused.
        await using var wecom = await FakeWeComServer.StartAsync();
        wecom.FailNext("gettoken", 60020);
        var result = await new WeComCredentialsCheck(Settings(("WeCom:CorpId", FakeWeComServer.CorpId), ("WeCom:Secret", FakeWeComServer.Secret),
            ("WeCom:ApiBaseUrl", wecom.BaseAddress.ToString()), ("Tunnel:RelayUrl", "wss://relay.example.com/"))).RunAsync(CancellationToken.None);

        Assert.Equal(DoctorOutcome.Warn, result.Outcome);
        Assert.Contains("errcode 60020", result.Detail, StringComparison.Ordinal);
        Assert.Contains("leave through the relay (wss://relay.example.com/)", result.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_ServerUnreachable_FailsWithNetworkHint()
    {
        var port = ClosedPort();
        var check = new WeComCredentialsCheck(Settings(("WeCom:CorpId", "ww-good"), ("WeCom:Secret", "s3cret"), ("WeCom:ApiBaseUrl", $"http://127.0.0.1:{port}")));
        var result = await check.RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, result.Outcome);
        Assert.Contains("cannot reach 127.0.0.1", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_NotConfigured_Skipped()
    {
        var result = await new WeComCredentialsCheck(Settings(("WeCom:CorpId", "ww-good"))).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Skip, result.Outcome);
    }

    [Fact]
    public async Task Relay_ListeningOrNot_PassesOrFails()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var up = await new RelayReachableCheck(Settings(("Tunnel:RelayUrl", $"ws://127.0.0.1:{port}/tunnel"))).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Pass, up.Outcome);

        var down = await new RelayReachableCheck(Settings(("Tunnel:RelayUrl", $"ws://127.0.0.1:{ClosedPort()}/tunnel"))).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, down.Outcome);

        var bad = await new RelayReachableCheck(Settings(("Tunnel:RelayUrl", "relay.example.com"))).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, bad.Outcome);
        Assert.Contains("is not a URL", bad.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gpio_NoChipsOrNotAChip_WarnsOrFails()
    {
        var devices = Directory.CreateTempSubdirectory("doctor-dev-").FullName;
        var none = await new GpioChipCheck(devices).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Warn, none.Outcome);

        await File.WriteAllTextAsync(Path.Combine(devices, "gpiochip0"), "not a device");
        var fake = await new GpioChipCheck(devices).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, fake.Outcome);
        Assert.Contains("gpiochip0: not a GPIO chip", fake.Detail, StringComparison.Ordinal);
        Directory.Delete(devices, recursive: true);
    }

    [Fact]
    public async Task Secrets_WorldReadable_FailsWithChmodHint()
    {
        var path = Path.Combine(_state, "secrets.json");
        await File.WriteAllTextAsync(path, "{}");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var open = await new SecretsFileCheck(path).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, open.Outcome);
        Assert.Contains("chmod 640", open.Hint, StringComparison.Ordinal);

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Equal(DoctorOutcome.Pass, (await new SecretsFileCheck(path).RunAsync(CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task State_UnderARegularFile_FailsNamingPath()
    {
        var file = Path.Combine(_state, "file");
        await File.WriteAllTextAsync(file, "");
        var result = await new StateDirectoryCheck(Settings(("State:Directory", Path.Combine(file, "state")))).RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, result.Outcome);
        Assert.Contains("is not writable", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_PinOnALineTheChipLacks_FailsNamingThePin()
    {
        // The doctor takes no GPIO line (the running service holds them) but still checks that each exists.
        var (exitCode, output) = await RunAsync("--Gpio:Pins:gate:Line=500");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Gpio:Pins:gate: line 500 does not exist", output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_state, recursive: true);

    private Task<(int, string)> RunAsync(params string[] settings) => RunAsync(null, settings);

    private async Task<(int, string)> RunAsync(Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder>? customize, params string[] settings)
    {
        using var output = new StringWriter();
        string[] args = [$"--State:Directory={_state}", "--Camera:Source=synthetic", .. settings];
        var exitCode = await DoctorCommand.RunAsync(args, output, CancellationToken.None, customize);
        return (exitCode, output.ToString());
    }

    private static async Task<DoctorResult> WeCom(FakeWeComServer wecom, string corp, string secret) =>
        await new WeComCredentialsCheck(Settings(("WeCom:CorpId", corp), ("WeCom:Secret", secret), ("WeCom:ApiBaseUrl", wecom.BaseAddress.ToString())))
            .RunAsync(CancellationToken.None);

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class FixedCheck(string title, DoctorResult result) : IDoctorCheck
    {
        public string Title => title;

        public Task<DoctorResult> RunAsync(CancellationToken cancellationToken) => Task.FromResult(result);
    }

    private sealed class ThrowingCheck : IDoctorCheck
    {
        public string Title => "Broken";

        public Task<DoctorResult> RunAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("boom");
    }
}
