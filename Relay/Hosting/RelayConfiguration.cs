using Appliance.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Relay.Hosting;

/// <summary>
/// Where the relay's settings come from (appsettings.json beside the binary, /etc/relay/relay.json, environment
/// variables, the command line) and the checks before it starts: a problem stops it with a
/// <see cref="ConfigurationException"/> naming the key, which <see cref="Program.Main"/> turns into exit 78
/// (<see cref="ExitCodes.ConfigurationError"/>), as the appliance does.
/// </summary>
internal static partial class RelayConfiguration
{
    /// <summary>Overrides /etc/relay (tests, or an admin who keeps settings elsewhere).</summary>
    public const string ConfigDirectoryVariable = "RELAY_CONFIG_DIR";

    /// <summary>Settings files after appsettings.json: /etc/relay (or RELAY_CONFIG_DIR)/relay.json.</summary>
    public static IReadOnlyList<string> SettingsFiles =>
        [Path.Combine(Environment.GetEnvironmentVariable(ConfigDirectoryVariable) is { Length: > 0 } dir ? dir : "/etc/relay", "relay.json")];

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        // Content root beside the binary: systemd starts it in /var/lib/relay, where there is no appsettings.json.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        foreach (var file in SettingsFiles)
        {
            RelaySettings.RequireReadableIfPresent(file);
            try
            {
                builder.Configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
            }
            catch (InvalidDataException ex)
            {
                // A settings file that is not valid JSON: name it, with the parser's reason.
                throw new ConfigurationException($"{ex.Message} {ex.InnerException?.Message}", ex);
            }
        }

        // Environment and command line stay above the files.
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        return builder;
    }

    /// <summary>Reads and checks <c>Relay:*</c>, registers <see cref="RelayOptions"/>; throws naming every bad key.</summary>
    public static RelaySettings.Checked AddRelaySettings(this WebApplicationBuilder builder)
    {
        var settings = RelaySettings.Check(builder.Configuration);
        if (settings.Errors.Count > 0)
        {
            throw new ConfigurationException(RelaySettings.Describe(settings.Errors));
        }

        builder.Services.AddSingleton(settings.Options);
        builder.Services.TryAddSingleton(TimeProvider.System); // tests register a fake clock first (customize)
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null); // uploads stream through
        builder.WebHost.ConfigureKestrel(k => ConnectionCeiling.Apply(k, settings.Options.MaxConnections));
        return settings;
    }

    /// <summary>https:// addresses, with the PEM certificate when <c>Relay:Tls</c> names one (reloaded as it renews).</summary>
    public static WebApplicationBuilder AddHttps(this WebApplicationBuilder builder, RelayCertificate? certificate)
    {
        // https:// addresses need Kestrel's HTTPS configuration, which the slim builder leaves out.
        builder.WebHost.UseKestrelHttpsConfiguration();
        if (certificate is not null)
        {
            builder.WebHost.ConfigureKestrel(k =>
            {
                certificate.Logger = k.ApplicationServices.GetRequiredService<ILogger<RelayCertificate>>();
                k.ConfigureHttpsDefaults(h => h.ServerCertificateSelector = (_, _) => certificate.Current);
            });
        }

        return builder;
    }

    /// <summary>
    /// Served over TLS (its own certificate, or behind a proxy it trusts for X-Forwarded-Proto): browsers keep to
    /// HTTPS for a year, so a visitor's cookie or view link never travels in clear after the first visit.
    /// </summary>
    public static WebApplication UseStrictTransportSecurity(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.Request.IsHttps)
            {
                context.Response.Headers.StrictTransportSecurity = "max-age=31536000";
            }

            return next(context);
        });
        return app;
    }

    /// <summary>Warns when several appliances share the relay's origin under /NAME/ paths.</summary>
    public static WebApplication WarnAboutSharedOrigin(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<RelayOptions>();
        if (options.Appliances.Count > 1 && options.AllowSharedOriginPaths)
        {
            LogSharedOrigin(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Program)), options.Appliances.Count);
        }

        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay:AllowSharedOriginPaths is set: {Count} appliances under /NAME/ paths share one browser origin, so a page of one can act with a visitor's login on another. Give each its own Relay:Appliances:NAME:Hosts instead.")]
    private static partial void LogSharedOrigin(ILogger logger, int count);
}
