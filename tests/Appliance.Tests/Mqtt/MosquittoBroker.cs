using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Mqtt;

/// <summary>
/// Debian's mosquitto on a free loopback port, configured in a private directory: anonymous, with a password file
/// (and optionally an ACL), or with TLS from a test CA made by openssl. No persistence, so a restart loses every
/// retained message, as a broker whose disk was wiped would: the appliance must publish them again.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly string _config;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private MosquittoBroker(string directory, int port, string config)
    {
        Directory = directory;
        Port = port;
        _config = config;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The test CA's certificate (PEM) when started with TLS.</summary>
    public string CaFile => Path.Combine(Directory, "ca.crt");

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts a broker; <paramref name="users"/> (name → password) turns anonymous access off.</summary>
    public static async Task<MosquittoBroker> StartAsync(IReadOnlyDictionary<string, string>? users = null, bool tls = false, string? acl = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("mosquitto-").FullName;
        var port = FreePort();
        var config = new StringBuilder()
            .AppendLine(CultureInvariant($"listener {port} 127.0.0.1"))
            .AppendLine("persistence false")
            .AppendLine("log_dest stderr")
            .AppendLine("log_type error")
            .AppendLine("log_type warning")
            .AppendLine("log_type notice")
            .AppendLine(CultureInvariant($"user {Environment.UserName}"));
        if (Environment.GetEnvironmentVariable("MOSQUITTO_NODELAY") == "1")
        {
            // mosquitto's default keeps Nagle on: a small packet waits for the previous one's delayed ACK (~40 ms)
            // unless the appliance acknowledges at once (QuickAckStreamProvider). The measurement runs both ways
            // (docs/mqtt.md); the tests use the default, as most brokers run.
            config.AppendLine("set_tcp_nodelay true");
        }

        if (users is null)
        {
            config.AppendLine("allow_anonymous true");
        }
        else
        {
            var passwords = Path.Combine(directory, "passwd");
            foreach (var (user, password) in users)
            {
                var create = File.Exists(passwords) ? Array.Empty<string>() : ["-c"];
                var result = await ExternalProcess.RunAsync("mosquitto_passwd", [.. create, "-b", passwords, user, password], TimeSpan.FromSeconds(30));
                Assert.True(result.ExitCode == 0, result.Stderr);
            }

            config.AppendLine("allow_anonymous false").AppendLine($"password_file {passwords}");
        }

        if (acl is not null)
        {
            var aclFile = Path.Combine(directory, "acl");
            await File.WriteAllTextAsync(aclFile, acl);
            config.AppendLine($"acl_file {aclFile}");
        }

        if (tls)
        {
            await MakeCertificatesAsync(directory);
            config.AppendLine($"cafile {Path.Combine(directory, "ca.crt")}")
                .AppendLine($"certfile {Path.Combine(directory, "server.crt")}")
                .AppendLine($"keyfile {Path.Combine(directory, "server.key")}");
        }

        var path = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllTextAsync(path, config.ToString());
        var broker = new MosquittoBroker(directory, port, path);
        await broker.RestartAsync();
        return broker;
    }

    /// <summary>Starts (again) on the same port and returns once it accepts connections.</summary>
    public async Task RestartAsync()
    {
        Assert.Null(_process);
        var start = new ProcessStartInfo("mosquitto") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(_config);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start mosquitto");
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(15) && !process.HasExited)
            {
                await Task.Delay(20);
            }
            catch (SocketException ex)
            {
                throw new InvalidOperationException($"mosquitto did not start listening on {Port}: {ex.Message}\n{Log}", ex);
            }
        }
    }

    /// <summary>Kills the broker at once (SIGKILL: no goodbye to clients, the appliance's last will fires).</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    private static string CultureInvariant(FormattableString text) => FormattableString.Invariant(text);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A test CA and a server certificate for 127.0.0.1 and localhost signed by it.</summary>
    private static async Task MakeCertificatesAsync(string directory)
    {
        async Task OpenSsl(params string[] arguments)
        {
            var result = await ExternalProcess.RunAsync("openssl", arguments, TimeSpan.FromSeconds(60), workingDirectory: directory);
            Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', arguments)}: {result.Stderr}");
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        await OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Appliance test CA");
        await OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
        await OpenSsl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext");
    }
}
