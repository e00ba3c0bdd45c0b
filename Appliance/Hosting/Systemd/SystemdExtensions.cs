namespace Appliance.Hosting.Systemd;

/// <summary>
/// Running under systemd: journald-format logs when stdout goes to the journal, and the notify protocol
/// (readiness, status, watchdog) when the unit is Type=notify. Does nothing otherwise. The set-up is the shared
/// <see cref="SystemdHostingExtensions"/> the relay uses too; what is the appliance's is <see cref="SystemdNotifyService"/>.
/// </summary>
public static class SystemdExtensions
{
    public static WebApplicationBuilder AddSystemd(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.BindOptions<SystemdOptions>(SystemdOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.AddSystemd<SystemdNotifyService>();
        return builder;
    }
}
