namespace Appliance.Doctor;

/// <summary>
/// Without a household password only the Pi itself may watch: a newcomer whose phone shows "no password yet" should
/// find the reason, and the fix for the way the appliance runs, in the doctor too.
/// </summary>
internal sealed class PasswordCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "Household password";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        if (configuration["Web:PasswordHash"] is { Length: > 0 })
        {
            return Task.FromResult(DoctorResult.Pass("set (Web:PasswordHash)"));
        }

        if (configuration["Web:Password"] is { Length: > 0 })
        {
            return Task.FromResult(DoctorResult.Pass("set (Web:Password; a hash from 'hash-password' in Web:PasswordHash keeps it out of the file)"));
        }

        var secrets = ApplianceConfiguration.SettingsFiles()[^1];
        var codeFile = Path.Combine(StateDirectory.Resolve(configuration), Auth.SetupCode.FileName);
        var code = Auth.SetupCode.Read(codeFile) is { } kept
            ? $"open /setup in a browser on the LAN and enter the setup code {Auth.SetupCode.Format(kept)}"
            : File.Exists(codeFile)
                ? $"the setup code is in {codeFile}, which this user cannot read: run the doctor as the service's user"
                : "start the appliance: it prints a setup code for the page /setup in its log (a line with 'setup code')";
        return Task.FromResult(DoctorResult.Warn(
            $"none yet: only this machine (loopback) can open the page; phones and other computers are asked to set one; {code}",
            $"or installed as a service: put {{\"Web\": {{\"Password\": \"…\"}}}} in {secrets}, then sudo systemctl restart appliance; " +
            "running from source: ./Appliance/run.sh --Web:Password=…"));
    }
}
