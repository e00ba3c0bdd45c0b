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
public static class Program
{
    /// <summary>Settings files after appsettings.json: /etc/relay (or RELAY_CONFIG_DIR)/relay.json.</summary>
    public static IReadOnlyList<string> SettingsFiles =>
        [Path.Combine(Environment.GetEnvironmentVariable("RELAY_CONFIG_DIR") is { Length: > 0 } dir ? dir : "/etc/relay", "relay.json")];

    public static async Task<int> Main(string[] args)
    {
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
            await Console.Error.WriteLineAsync(ex.Message);
            return 78; // EX_CONFIG: systemd does not restart in a loop
        }
        catch (InvalidDataException ex)
        {
            // A settings file that is not valid JSON: name it, and do not restart in a loop.
            await Console.Error.WriteLineAsync($"{ex.Message} {ex.InnerException?.Message}");
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
            RequireReadableIfPresent(file);
            builder.Configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
        }

        // Environment and command line stay above the files.
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        return builder;
    }

    /// <summary>
    /// A settings file that is there but cannot be read (e.g. a directory the service's user may not enter) would be
    /// skipped as absent, and the relay would run without its appliances: stop instead, naming the file.
    /// </summary>
    private static void RequireReadableIfPresent(string file)
    {
        try
        {
            using var probe = File.OpenRead(file);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Absent: the built-in defaults apply.
        }
        catch (UnauthorizedAccessException ex)
        {
            var exception = new InvalidOperationException(
                $"The relay cannot start:\n  - the settings file {file} is there but this process (user {Environment.UserName}) "
                + $"cannot read it: {ex.Message} Give the service's group read access to it and its directory "
                + "(install.sh makes them root:relay, 640 and 750).\n");
            exception.Data["RelayConfiguration"] = true;
            throw exception;
        }
    }

    public static WebApplication BuildApp(string[] args)
    {
        var builder = CreateBuilder(args);
        builder.AddSystemd();
        var (options, stateDirectory, certificate, errors) = CheckSettings(builder.Configuration);
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
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<TunnelRegistry>();
        builder.Services.AddSingleton<AuthFailureLimiter>();
        builder.Services.AddSingleton<ClientAddress>();
        builder.Services.AddSingleton<TunnelAcceptor>();
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton<StreamFanOuts>();
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
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                await context.Response.WriteAsync("Not found. Appliances are at /NAME/.\n");
            }
        });
        return app;
    }

    /// <summary>
    /// Reads <c>Relay:*</c> and checks what the relay needs before it starts (shared with <c>Relay doctor</c>): valid
    /// options, a state directory it can create, and for any https:// address PEM files that load.
    /// </summary>
    internal static (RelayOptions Options, string StateDirectory, RelayCertificate? Certificate, List<string> Errors) CheckSettings(IConfiguration configuration)
    {
        var options = new RelayOptions();
        List<string> errors = [];
        try
        {
            configuration.GetSection(RelayOptions.SectionName).Bind(options);
            errors.AddRange(options.Validate());
        }
        catch (InvalidOperationException ex)
        {
            errors.Add(ex.Message);
        }

        var stateDirectory = ResolveStateDirectory(options);
        try
        {
            Directory.CreateDirectory(stateDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add($"Relay:StateDirectory '{stateDirectory}' cannot be created: {ex.Message}");
        }

        var urls = configuration[WebHostDefaults.ServerUrlsKey] ?? "";
        if (urls.Contains("https://", StringComparison.OrdinalIgnoreCase) && options.Tls.CertificatePath.Length == 0
            && !configuration.GetSection("Kestrel:Certificates").Exists())
        {
            errors.Add("Urls has an https:// address but the relay has no certificate: set Relay:Tls:CertificatePath and "
                + "Relay:Tls:KeyPath (PEM files, e.g. Let's Encrypt's), or listen on http:// behind nginx or Caddy.");
        }

        if (options.Tls.CertificatePath.Length > 0 && !urls.Contains("https://", StringComparison.OrdinalIgnoreCase)
            && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            errors.Add($"Relay:Tls is set but Urls ({(urls.Length > 0 ? urls : "not set")}) has no https:// address, so the "
                + "certificate would not be used: set Urls to e.g. https://0.0.0.0:443.");
        }

        RelayCertificate? certificate = null;
        if (options.Tls.CertificatePath.Length > 0 && options.Tls.KeyPath.Length > 0)
        {
            // Fail at start, not at the first visitor, when the files are wrong.
            certificate = new RelayCertificate(options.Tls);
            if (certificate.LoadError() is { } loadError)
            {
                errors.Add(loadError);
            }
        }

        return (options, stateDirectory, certificate, errors);
    }

    private static string ResolveStateDirectory(RelayOptions options)
    {
        if (options.StateDirectory.Length > 0)
        {
            return options.StateDirectory;
        }

        if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            return systemd.Split(':')[0];
        }

        const string system = "/var/lib/relay";
        try
        {
            Directory.CreateDirectory(system);
            var probe = Path.Combine(system, ".write-test");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return system;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "relay");
        }
    }
}
