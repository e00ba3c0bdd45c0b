using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tests.Shared;

/// <summary>A raw <c>GET /healthz</c> on an open connection: for tests of servers that may close it unanswered.</summary>
public static class HealthProbe
{
    /// <summary>The first 8 characters of the answer (the status line's start), "" when the server closed it.</summary>
    public static async Task<string> AskAsync(TcpClient tcp)
    {
        var stream = tcp.GetStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await stream.WriteAsync("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[8];
            var read = 0;
            while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), timeout.Token) is var n and > 0)
            {
                read += n;
            }

            return Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>
    /// Connects to <paramref name="port"/> on loopback and asks, "" when the server closed the connection unanswered.
    /// A server that accepts and closes at once can reset the connection before the client has seen its own
    /// connect complete (seen on a loaded machine): Linux then reports ECONNRESET from connect, which is the same
    /// "closed unanswered" and is counted so.
    /// </summary>
    public static async Task<string> ConnectAndAskAsync(int port)
    {
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return "";
        }

        return await AskAsync(tcp);
    }

    /// <summary>
    /// Asks on new connections until one is answered or <paramref name="within"/> has passed: the server learns
    /// of a client's close asynchronously, so a place freed by a close is taken up a moment later, not at once.
    /// </summary>
    public static async Task<string> AskUntilAnsweredAsync(int port, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var answer = await ConnectAndAskAsync(port);
            if (answer.Length > 0 || DateTime.UtcNow >= deadline)
            {
                return answer;
            }

            await Task.Delay(100);
        }
    }
}
