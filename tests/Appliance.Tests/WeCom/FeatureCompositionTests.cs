using Appliance.Capture;
using Appliance.Hardware;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Appliance.Hosting.Systemd;
using Appliance.Status;
using Appliance.Streaming;
using Appliance.Tunnel;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Commands;
using Appliance.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.WeCom;

/// <summary>
/// Which feature's service the appliance uses where one feature overrides another's default (WeCom's direct egress
/// and "no outputs" by the tunnel's egress and public address and the hardware's outputs): chosen on purpose, the
/// same whichever order the features are added in.
/// </summary>
public sealed class FeatureCompositionTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("appliance-state-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public async Task OnCommand_WithoutHardwareFeature_AnswersNoOutputsConfigured()
    {
        await using var app = Compose([], static b => b.AddWeCom());
        var registry = app.Services.GetRequiredService<WeComCommandRegistry>();

        var resolved = registry.Resolve("on porch");
        Assert.NotNull(resolved);
        var answer = await resolved.Value.Command.ExecuteAsync(
            new WeComCommandContext("dad", IsAdmin: true, resolved.Value.Arguments, new InboundMessage(new Dictionary<string, string>())),
            CancellationToken.None);

        var text = Assert.IsType<TextMessage>(answer).Content;
        Assert.Contains("No outputs are configured", text, StringComparison.Ordinal);
        Assert.Contains("Gpio:Pins", text, StringComparison.Ordinal);
        Assert.IsType<NoOutputSwitch>(app.Services.GetRequiredService<IOutputSwitch>());
    }

    [Fact]
    public async Task OnCommand_WithoutHardwareFeature_UnspacedChineseIsNotACommand()
    {
        await using var app = Compose([], static b => b.AddWeCom());

        Assert.Null(app.Services.GetRequiredService<WeComCommandRegistry>().Resolve("开灯"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AddWeComAndAddHardware_EitherOrder_GpioOutputsAnswer(bool hardwareFirst)
    {
        Action<WebApplicationBuilder> wecom = static b => b.AddWeCom();
        Action<WebApplicationBuilder> hardware = static b => b.AddHardware();
        await using var app = Compose(["--Gpio:Pins:porch:Line=6"], hardwareFirst ? [hardware, wecom] : [wecom, hardware]);

        var outputs = Assert.Single(app.Services.GetServices<IOutputSwitch>());
        Assert.IsType<GpioOutputSwitch>(outputs);
        Assert.Equal("porch", outputs.Find("PORCH"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AddWeComAndAddTunnel_EitherOrder_TunnelEgressAndPublicAddress(bool tunnelFirst)
    {
        Action<WebApplicationBuilder> wecom = static b => b.AddWeCom();
        Action<WebApplicationBuilder> tunnel = static b => b.AddTunnel();
        await using var app = Compose(
            ["--Tunnel:RelayUrl=wss://relay.example.org/", "--Tunnel:Name=home", "--Tunnel:Secret=0123456789abcdef0123456789abcdef"],
            tunnelFirst ? [tunnel, wecom] : [wecom, tunnel]);

        var egress = Assert.Single(app.Services.GetServices<IWeComEgress>());
        Assert.Equal("relay tunnel", egress.Name);
        var publicUrl = Assert.Single(app.Services.GetServices<IPublicBaseUrl>());
        Assert.Equal("https://relay.example.org/home", publicUrl.PublicBaseUrl);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AddWeComAndAddTunnel_TunnelNotConfigured_DirectEgress(bool tunnelFirst)
    {
        Action<WebApplicationBuilder> wecom = static b => b.AddWeCom();
        Action<WebApplicationBuilder> tunnel = static b => b.AddTunnel();
        await using var app = Compose([], tunnelFirst ? [tunnel, wecom] : [wecom, tunnel]);

        Assert.Equal("direct", Assert.Single(app.Services.GetServices<IWeComEgress>()).Name);
        Assert.Empty(app.Services.GetServices<IPublicBaseUrl>());
    }

    [Fact]
    public async Task AddCaptureAndAddSystemd_CaptureWatchdogFeedsTheWatchdog()
    {
        await using var app = Compose([], static b => b.AddSystemd());

        Assert.Contains(app.Services.GetServices<IWatchdogHealth>(), h => h is CaptureWatchdogHealth);
    }

    /// <summary>The features every command needs (state, camera, web login, streaming, status), then <paramref name="features"/> in order; built, not started.</summary>
    private WebApplication Compose(string[] settings, params Action<WebApplicationBuilder>[] features)
    {
        var builder = ApplianceConfiguration.CreateBuilder(
            ["--urls=http://127.0.0.1:0", $"--State:Directory={_state}", "--Logging:LogLevel:Default=Warning", .. WeComCallbackClient.Settings(null), .. settings]);
        builder.AddStateDirectory();
        builder.AddCapture();
        builder.AddWebAuth();
        builder.AddStreaming();
        builder.AddStatus();
        foreach (var feature in features)
        {
            feature(builder);
        }

        builder.ThrowIfConfigurationInvalid();
        return builder.Build();
    }
}
