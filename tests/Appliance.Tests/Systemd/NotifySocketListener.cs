using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Appliance.Tests.Systemd;

/// <summary>A real Unix datagram socket standing in for systemd's NOTIFY_SOCKET; records every message.</summary>
internal sealed class NotifySocketListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly Channel<string> _messages = Channel.CreateUnbounded<string>();
    private readonly string? _directory;
    private readonly Task _receiving;

    private NotifySocketListener(string notifySocket, UnixDomainSocketEndPoint endPoint, string? directory)
    {
        NotifySocket = notifySocket;
        _directory = directory;
        _socket.Bind(endPoint);
        _receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>The value for NOTIFY_SOCKET.</summary>
    public string NotifySocket { get; }

    public static NotifySocketListener OnPath()
    {
        var directory = Directory.CreateTempSubdirectory("notify-").FullName;
        var path = Path.Combine(directory, "notify.sock");
        return new NotifySocketListener(path, new UnixDomainSocketEndPoint(path), directory);
    }

    public static NotifySocketListener Abstract()
    {
        var name = $"appliance-test-{Guid.NewGuid():N}";
        return new NotifySocketListener("@" + name, new UnixDomainSocketEndPoint("\0" + name), null);
    }

    /// <summary>Messages received within <paramref name="duration"/> from now (plus any already queued).</summary>
    public async Task<List<string>> CollectAsync(TimeSpan duration)
    {
        var result = new List<string>();
        using var timeout = new CancellationTokenSource(duration);
        try
        {
            while (await _messages.Reader.WaitToReadAsync(timeout.Token))
            {
                while (_messages.Reader.TryRead(out var message))
                {
                    result.Add(message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return result;
    }

    /// <summary>Drops everything received so far.</summary>
    public void Clear()
    {
        while (_messages.Reader.TryRead(out _))
        {
        }
    }

    /// <summary>Waits for a message containing the assignment <paramref name="assignment"/> (e.g. READY=1).</summary>
    public async Task<string?> WaitForAsync(string assignment, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var message = await _messages.Reader.ReadAsync(cancel.Token);
                if (HasAssignment(message, assignment))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public static bool HasAssignment(string message, string assignment) =>
        message.Split('\n').Any(line => line == assignment || (assignment.EndsWith('=') && line.StartsWith(assignment, StringComparison.Ordinal)));

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                _messages.Writer.TryWrite(Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _messages.Writer.TryComplete();
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _receiving.Wait(TimeSpan.FromSeconds(2));
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
