using System.Net.Sockets;
using System.Text;

namespace Appliance.Hosting.Systemd;

/// <summary>
/// The sd_notify protocol: newline-separated <c>KEY=value</c> assignments in one datagram to the Unix socket named
/// by <c>NOTIFY_SOCKET</c> (a path, or an abstract name written with a leading '@'). Written here because
/// Microsoft.Extensions.Hosting.Systemd is not available; also compiled into the Relay.
/// </summary>
internal sealed class SystemdNotifier : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _endPoint;
    private readonly Lock _gate = new();

    public SystemdNotifier(string notifySocket)
    {
        ArgumentException.ThrowIfNullOrEmpty(notifySocket);
        SocketPath = notifySocket;

        // systemd writes abstract sockets as "@name"; the kernel wants a leading NUL byte instead.
        _endPoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
    }

    public string SocketPath { get; }

    /// <summary>Sends one message (e.g. "READY=1\nSTATUS=…"); false when the socket refused it (systemd gone).</summary>
    public bool Send(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = Encoding.UTF8.GetBytes(message);
        try
        {
            lock (_gate)
            {
                return _socket.SendTo(bytes, SocketFlags.None, _endPoint) == bytes.Length;
            }
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>STATUS= is one line; newlines would start new assignments.</summary>
    public static string StatusLine(string status) =>
        "STATUS=" + status.ReplaceLineEndings(" ");

    public void Dispose() => _socket.Dispose();
}

/// <summary>What systemd tells a service through its environment.</summary>
/// <param name="NotifySocket"><c>NOTIFY_SOCKET</c>, or null when not started by systemd with Type=notify.</param>
/// <param name="WatchdogTimeout"><c>WATCHDOG_USEC</c> when it is meant for this process (<c>WATCHDOG_PID</c>), else null.</param>
/// <param name="UnderJournal">True when stdout/stderr go to journald (<c>JOURNAL_STREAM</c> is set).</param>
internal sealed record SystemdEnvironment(string? NotifySocket, TimeSpan? WatchdogTimeout, bool UnderJournal)
{
    public static SystemdEnvironment FromProcess() => Parse(name => Environment.GetEnvironmentVariable(name), Environment.ProcessId);

    public static SystemdEnvironment Parse(Func<string, string?> variable, int processId)
    {
        ArgumentNullException.ThrowIfNull(variable);
        var socket = variable("NOTIFY_SOCKET") is { Length: > 0 } s ? s : null;
        TimeSpan? watchdog = null;
        if (ulong.TryParse(variable("WATCHDOG_USEC"), out var usec) && usec > 0)
        {
            // WATCHDOG_PID, when present, names the process the watchdog is meant for (not a child we spawned).
            var pid = variable("WATCHDOG_PID");
            if (string.IsNullOrEmpty(pid) || (int.TryParse(pid, out var p) && p == processId))
            {
                watchdog = TimeSpan.FromMicroseconds((long)Math.Min(usec, long.MaxValue));
            }
        }

        return new SystemdEnvironment(socket, watchdog, !string.IsNullOrEmpty(variable("JOURNAL_STREAM")));
    }

    /// <summary>
    /// A message that stops the program, as journald should file it: every line at priority err (<c>&lt;3&gt;</c>), so
    /// <c>journalctl -p err -u NAME</c> shows why the service did not start. Unchanged outside the journal.
    /// </summary>
    public string Fatal(string message) =>
        UnderJournal ? "<3>" + message.TrimEnd('\n').ReplaceLineEndings("\n<3>") : message;
}
