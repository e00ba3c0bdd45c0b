using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

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
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(directory, "host_key"));
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(directory, "client_key"));
        File.Copy(Path.Combine(directory, "client_key.pub"), Path.Combine(directory, "authorized_keys"));
        Directory.CreateDirectory("/run/sshd"); // sshd's privilege-separation directory
        var sshdPort = FreePort();
        var remotePort = FreePort();
        var config = Path.Combine(directory, "sshd_config");
        await File.WriteAllTextAsync(config, string.Join('\n',
            "ListenAddress 127.0.0.1", $"HostKey {directory}/host_key", $"PidFile {directory}/sshd.pid",
            $"AuthorizedKeysFile {directory}/authorized_keys", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "AllowTcpForwarding yes", "GatewayPorts no", ""));
        var sshd = Start("/usr/sbin/sshd", "-D", "-e", "-f", config, "-p", sshdPort.ToString(CultureInfo.InvariantCulture));
        await WaitForPortAsync(sshdPort, sshd);
        var ssh = Start("/usr/bin/ssh", "-N", "-R", $"{remotePort}:127.0.0.1:{appliancePort}", "-p", sshdPort.ToString(CultureInfo.InvariantCulture),
            "-i", Path.Combine(directory, "client_key"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1");
        await WaitForPortAsync(remotePort, ssh);
        return new SshReverseTunnel(directory, sshd, ssh, sshdPort, remotePort);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Process Start(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Start(file, arguments);
        if (!process.WaitForExit(10_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed");
        }
    }

    private static async Task WaitForPortAsync(int port, Process owner)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !owner.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in new[] { _ssh, _sshd })
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }
}
