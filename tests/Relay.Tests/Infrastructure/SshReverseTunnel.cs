using System.Diagnostics;
using System.Globalization;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// The hobbyist's anchor: a local OpenSSH server (its own host key, config and authorized key, made here) and
/// <c>ssh -N -R</c> forwarding a port on it to the appliance. Needs root and openssh-server; loopback only.
/// </summary>
public sealed class SshReverseTunnel : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Process _sshd;
    private readonly Process _ssh;

    private SshReverseTunnel(string directory, Process sshd, Process ssh, int sshdPort, int remotePort)
    {
        _directory = directory;
        _sshd = sshd;
        _ssh = ssh;
        SshdPort = sshdPort;
        RemotePort = remotePort;
    }

    /// <summary>Where sshd listens: the ssh client's connection to it is the appliance's uplink.</summary>
    public int SshdPort { get; }

    /// <summary>The forwarded port on the server side: visitors connect here.</summary>
    public int RemotePort { get; }

    public static bool IsAvailable => File.Exists("/usr/sbin/sshd") && File.Exists("/usr/bin/ssh") && Environment.UserName == "root";

    public static async Task<SshReverseTunnel> StartAsync(int appliancePort)
    {
        var directory = Directory.CreateTempSubdirectory("sshd-").FullName;
        AnchorProcess.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(directory, "host_key"));
        AnchorProcess.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(directory, "client_key"));
        File.Copy(Path.Combine(directory, "client_key.pub"), Path.Combine(directory, "authorized_keys"));
        Directory.CreateDirectory("/run/sshd"); // sshd's privilege-separation directory
        var sshdPort = AnchorProcess.FreePort();
        var remotePort = AnchorProcess.FreePort();
        var config = Path.Combine(directory, "sshd_config");
        await File.WriteAllTextAsync(config, string.Join('\n',
            "ListenAddress 127.0.0.1", $"HostKey {directory}/host_key", $"PidFile {directory}/sshd.pid",
            $"AuthorizedKeysFile {directory}/authorized_keys", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "AllowTcpForwarding yes", "GatewayPorts no", ""));
        var sshd = AnchorProcess.Start("/usr/sbin/sshd", "-D", "-e", "-f", config, "-p", sshdPort.ToString(CultureInfo.InvariantCulture));
        await AnchorProcess.WaitForPortAsync(sshdPort, sshd);
        var ssh = AnchorProcess.Start("/usr/bin/ssh", "-N", "-R", $"{remotePort}:127.0.0.1:{appliancePort}", "-p", sshdPort.ToString(CultureInfo.InvariantCulture),
            "-i", Path.Combine(directory, "client_key"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1");
        await AnchorProcess.WaitForPortAsync(remotePort, ssh);
        return new SshReverseTunnel(directory, sshd, ssh, sshdPort, remotePort);
    }

    public async ValueTask DisposeAsync()
    {
        await AnchorProcess.StopAsync(_ssh);
        await AnchorProcess.StopAsync(_sshd);

        Directory.Delete(_directory, recursive: true);
    }
}
