using Appliance.Hosting;
using Appliance.Hosting.Systemd;
using Relay.Hosting;
using Relay.Proxy;
using Relay.Streaming;
using Relay.Tunnel;
using Relay.WeCom;

namespace Relay;

/// <summary>
/// The VPS side of the tunnel: appliances dial in at <c>/_tunnel/connect</c>; visitors reach them at
/// <c>https://RELAY/NAME/…</c>; <c>/status</c> and <c>/healthz</c> are the relay's own. Composes one AddX/MapX pair
/// per feature.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["--version"])
        {
            Console.WriteLine($"Relay {ProductVersion.Current}");
            return ExitCodes.Success;
        }

        if (args is ["doctor", ..])
        {
            return RelayDoctor.Run(args[1..], Console.Out);
        }

        WebApplication app;
        try
        {
            app = BuildApp(args);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(SystemdEnvironment.FromProcess().Fatal(ex.Message));
            return ExitCodes.ConfigurationError;
        }

        await app.RunAsync();
        return ExitCodes.Success;
    }

    /// <summary>Builds the relay; <paramref name="customize"/> runs on the builder first (tests: a fake clock).</summary>
    public static WebApplication BuildApp(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = RelayConfiguration.CreateBuilder(args);
        customize?.Invoke(builder);

        builder.AddSystemd();
        var settings = builder.AddRelaySettings();
        builder.AddHttps(settings.Certificate);
        builder.AddTunnel();
        builder.AddFrontDoor();
        builder.AddFanOut();
        builder.AddCallbackRelay(settings.StateDirectory);
        builder.AddStatus();

        var app = builder.Build();
        app.WarnAboutSharedOrigin();
        app.UseTunnel();
        app.UseStrictTransportSecurity();
        app.MapTunnel();
        app.MapEgress();
        app.MapStatus();
        app.MapFrontDoor();
        return app;
    }
}
