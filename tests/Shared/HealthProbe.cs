using System.Net.Sockets;
using System.Text;

namespace Tests.Shared;

/// <summary>A raw <c>GET /healthz</c> on an open connection: for tests of servers that may close it unanswered.</summary>
internal static class HealthProbe
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
}
