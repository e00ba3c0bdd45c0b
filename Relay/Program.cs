using Appliance.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Relay.Hosting;
using Relay.Proxy;
using Relay.Streaming;
using Relay.Tunnel;
using Relay.WeCom;
using TunnelProtocol;

namespace Relay;

/// <summary>
/// The VPS side of the tunnel: appliances dial in at <c>/_tunnel/connect</c>; visitors reach them at
/// <c>https://RELAY/NAME/…</c>; <c>/status</c> and <c>/healthz</c> are the relay's own.
/// </summary>
public static partial class Program
{
    /// <summary>Settings files after appsettings.json: /etc/relay (or RELAY_CONFIG_DIR)/relay.json.</summary>
    public static IReadOnlyList<string> SettingsFiles =>
        [Path.Combine(Environment.GetEnvironmentVariable("RELAY_CONFIG_DIR") is { Length: > 0 } dir ? dir : "/etc/relay", "relay.json")];

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--version"])
        {
            Console.WriteLine($"Relay {Appliance.Hosting.ProductVersion.Current}");
            return 0;
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
        catch (InvalidOperationException ex) when (ex.Data.Contains("RelayConfiguration"))
        {
            await Console.Error.WriteLineAsync(SystemdEnvironment.FromProcess().Fatal(ex.Message));
            return 78; // EX_CONFIG: systemd does not restart in a loop
        }
        catch (InvalidDataException ex)
        {
            // A settings file that is not valid JSON: name it, and do not restart in a loop.
            await Console.Error.WriteLineAsync(SystemdEnvironment.FromProcess().Fatal($"{ex.Message} {ex.InnerException?.Message}"));
            return 78;
        }

        await app.RunAsync();
        return 0;
    }

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        // Content root beside the binary: systemd starts it in /var/lib/relay, where there is no appsettings.json.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        foreach (var file in SettingsFiles)
        {
            RelaySettings.RequireReadableIfPresent(file);
            builder.Configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
        }

        // Environment and command line stay above the files.
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        return builder;
    }

    /// <summary>Builds the relay; <paramref name="customize"/> runs on the builder first (tests: a manual clock).</summary>
    public static WebApplication BuildApp(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = CreateBuilder(args);
        customize?.Invoke(builder);
        builder.AddSystemd();
        var (options, stateDirectory, certificate, errors) = RelaySettings.Check(builder.Configuration);
        if (errors.Count > 0)
        {
            var exception = new InvalidOperationException("The relay cannot start:\n" + string.Concat(errors.Select(e => $"  - {e}\n")));
            exception.Data["RelayConfiguration"] = true;
            throw exception;
        }

        // https:// addresses need Kestrel's HTTPS configuration, which the slim builder leaves out.
        builder.WebHost.UseKestrelHttpsConfiguration();
        if (certificate is not null)
        {
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificateSelector = (_, _) => certificate.Current));
        }

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null); // uploads stream through
        builder.WebHost.ConfigureKestrel(k => Appliance.Hosting.ConnectionCeiling.Apply(k, options.MaxConnections));
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.Services.AddSingleton(options);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<TunnelRegistry>();
        builder.Services.AddSingleton<AuthFailureLimiter>();
        builder.Services.AddSingleton<ClientAddress>();
        builder.Services.AddSingleton<TunnelAcceptor>();
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton<StreamFanOuts>();
        builder.Services.AddSingleton(sp => new Appliance.Streaming.StreamLimiter(
            options.MaxStreamsPerClient, options.MaxStreamsPerLink, options.MaxStreams,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<FrontDoor>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(new CallbackStore(Path.Combine(stateDirectory, "callbacks.db")));
        builder.Services.AddSingleton<CallbackRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CallbackRelay>());
        builder.Services.AddSingleton<FrontDoor>();
        builder.Services.AddSingleton<RelayStatus>();

        var app = builder.Build();
        if (certificate is not null)
        {
            certificate.Logger = app.Services.GetRequiredService<ILogger<RelayCertificate>>();
        }

        app.UseWebSockets();
        if (options.Appliances.Count > 1 && options.AllowSharedOriginPaths)
        {
            LogSharedOrigin(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Program)), options.Appliances.Count);
        }

        // Served over TLS (its own certificate, or behind a proxy it trusts for X-Forwarded-Proto): browsers keep to
        // HTTPS for a year, so a visitor's cookie or view link never travels in clear after the first visit.
        app.Use((context, next) =>
        {
            if (context.Request.IsHttps)
            {
                context.Response.Headers.StrictTransportSecurity = "max-age=31536000";
            }

            return next(context);
        });
        var front = app.Services.GetRequiredService<FrontDoor>();
        var acceptor = app.Services.GetRequiredService<TunnelAcceptor>();
        var status = app.Services.GetRequiredService<RelayStatus>();
        app.Run(async context =>
        {
            var path = context.Request.Path.Value ?? "/";
            if (path == "/" + TunnelHandshake.ConnectPath || path == "/" + TunnelHandshake.EgressPath)
            {
                await acceptor.AcceptAsync(context, egress: path == "/" + TunnelHandshake.EgressPath);
            }
            else if (front.Resolve(context.Request) is { } route)
            {
                await front.HandleAsync(context, route);
            }
            else if (path == "/healthz")
            {
                await context.Response.WriteAsync("ok\n");
            }
            else if (path == "/status")
            {
                await status.HandleAsync(context);
            }
            else
            {
                // The same answer as for an appliance that is configured but offline: names cannot be told apart.
                await Pages.WriteNotReachableAsync(context);
            }
        });
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay:AllowSharedOriginPaths is set: {Count} appliances under /NAME/ paths share one browser origin, so a page of one can act with a visitor's login on another. Give each its own Relay:Appliances:NAME:Hosts instead.")]
    private static partial void LogSharedOrigin(ILogger logger, int count);
}
