namespace Appliance.Hosting.Systemd;

/// <summary>
/// One condition the systemd watchdog depends on: WATCHDOG=1 is sent only while every registered check is healthy,
/// so systemd restarts the appliance when one stays broken. Features add their own
/// (<c>builder.Services.AddSingleton&lt;IWatchdogHealth, X&gt;()</c>), e.g. "tunnel connected or reconnecting".
/// </summary>
public interface IWatchdogHealth
{
    /// <summary>Null while healthy; otherwise what is wrong, for the STATUS= line and the log.</summary>
    string? Problem();
}
