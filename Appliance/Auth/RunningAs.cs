namespace Appliance.Auth;

/// <summary>
/// How the appliance was started, for advice a person can follow: the installed service (systemd sets
/// <c>INVOCATION_ID</c> for every unit it starts, and <c>NOTIFY_SOCKET</c> for Type=notify), or by hand
/// (<c>run.sh</c>, <c>dotnet run</c>) in a terminal.
/// </summary>
internal sealed record RunningAs(bool UnderSystemd)
{
    public static RunningAs FromProcess() => new(
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID"))
        || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")));

    /// <summary>Where its log lines go.</summary>
    public string WhereTheLogIs => UnderSystemd
        ? "journalctl -u appliance | grep 'setup code', or systemctl status appliance"
        : "the terminal where it runs";

    /// <summary>How to run the doctor as the service user (who can read the state directory).</summary>
    public string DoctorCommand => UnderSystemd ? "sudo -u appliance appliance doctor" : "./Appliance/run.sh doctor";
}
