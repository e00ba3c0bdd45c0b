namespace Appliance.Hosting;

/// <summary>Process exit codes (sysexits.h), so systemd can tell a bad configuration from a crash.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 64;

    /// <summary>EX_CONFIG: the unit file uses RestartPreventExitStatus=78 so a bad setting does not loop.</summary>
    public const int ConfigurationError = 78;
}
