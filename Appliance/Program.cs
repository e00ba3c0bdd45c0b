using Appliance.Auth;
using Appliance.Capture;
using Appliance.Events;
using Appliance.Hardware;
using Appliance.Hosting;
using Appliance.Hosting.Systemd;
using Appliance.Mqtt;
using Appliance.Scoring;
using Appliance.Settings;
using Appliance.Status;
using Appliance.Streaming;
using Appliance.Tunnel;
using Appliance.Web;
using Appliance.WeCom;

namespace Appliance;

/// <summary>Composes the appliance: one AddX/MapX pair per feature.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Sub-commands (hash-password, doctor, cameras …) run and exit without starting the web host.
        if (Cli.CommandLine.TryRun(args, out var exitCode))
        {
            return exitCode;
        }

        WebApplication app;
        try
        {
            app = BuildApp(args);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(Hosting.Systemd.SystemdEnvironment.FromProcess().Fatal(ex.Message));
            return ExitCodes.ConfigurationError;
        }

        await app.RunAsync();
        return 0;
    }

    /// <summary>Builds the whole appliance; tests call this with <c>--urls=http://127.0.0.1:0</c>.</summary>
    public static WebApplication BuildApp(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = ApplianceConfiguration.CreateBuilder(args);
        customize?.Invoke(builder);

        builder.AddStateDirectory();
        builder.AddCapture();
        builder.AddWebAuth();
        builder.AddStreaming();
        builder.AddStatus();
        builder.AddWeCom();
        builder.AddSystemd();
        builder.AddTunnel();
        builder.AddHardware();
        builder.AddScoring();
        builder.AddMqtt();
        builder.AddEvents();

        builder.ThrowIfConfigurationInvalid();
        var app = builder.Build();

        app.UseTunnel();
        app.UseWebAuth();
        app.MapWebPage();
        app.MapStreaming();
        app.MapStatus();
        app.MapWeCom();
        app.MapTunnel();
        app.MapHardware();
        app.MapScoring();
        app.MapEvents();
        app.MapSettingsPage();
        return app;
    }
}
