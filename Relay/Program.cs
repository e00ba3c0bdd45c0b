using Relay.Hosting;

namespace Relay;

/// <summary>
/// The VPS side of the tunnel. Until the relay feature lands it only answers its health check, so the unit file,
/// publish script and CI smoke test have a real program to work with.
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
        catch (InvalidDataException ex)
        {
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
            builder.Configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
        }

        // Environment and command line stay above the files.
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        return builder;
    }

    public static WebApplication BuildApp(string[] args)
    {
        var builder = CreateBuilder(args);
        builder.AddSystemd();
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain"));
        return app;
    }
}
