using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Hosting.Systemd;

/// <summary>
/// Running under systemd: journald-format logs when stdout goes to the journal, and the notify protocol
/// (readiness, status, watchdog) when the unit is Type=notify. Does nothing otherwise.
/// </summary>
public static class SystemdExtensions
{
    public static WebApplicationBuilder AddSystemd(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Tests register their own environment (a socket of theirs) before this runs.
        var environment = builder.Services.LastOrDefault(d => d.ServiceType == typeof(SystemdEnvironment))?.ImplementationInstance
            as SystemdEnvironment ?? SystemdEnvironment.FromProcess();
        builder.Services.TryAddSingleton(environment);
        builder.BindOptions<SystemdOptions>(SystemdOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());

        if (environment.UnderJournal)
        {
            // "<6>Category[id] message" on one line: journald reads the priority, and one entry is one event.
            builder.Logging.AddSystemdConsole(o =>
            {
                o.IncludeScopes = false;
                o.TimestampFormat = null;
            });
        }

        if (environment.NotifySocket is { } socket)
        {
            builder.Services.AddSingleton(new SystemdNotifier(socket));
            builder.Services.AddHostedService<SystemdNotifyService>();
        }

        return builder;
    }
}
