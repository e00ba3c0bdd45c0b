using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Appliance.Hosting.Systemd;

/// <summary>
/// Running under systemd, as both programs do: journald-format logs when stdout goes to the journal, and when the unit
/// is Type=notify the <see cref="SystemdNotifier"/> with the program's own notify service (READY=1, STATUS=, WATCHDOG=1,
/// STOPPING=1; what "ready" and "healthy" mean is the program's). Does nothing else otherwise. Our own because
/// Microsoft.Extensions.Hosting.Systemd is not available.
/// </summary>
internal static class SystemdHostingExtensions
{
    /// <summary>Sets up logging and notification for <typeparamref name="TNotifyService"/>; returns what systemd said.</summary>
    public static SystemdEnvironment AddSystemd<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TNotifyService>(
        this WebApplicationBuilder builder)
        where TNotifyService : class, IHostedService
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Tests register their own environment (a socket of theirs) before this runs.
        var environment = builder.Services.LastOrDefault(d => d.ServiceType == typeof(SystemdEnvironment))?.ImplementationInstance
            as SystemdEnvironment ?? SystemdEnvironment.FromProcess();
        builder.Services.TryAddSingleton(environment);

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
            builder.Services.AddHostedService<TNotifyService>();
        }

        return environment;
    }
}
