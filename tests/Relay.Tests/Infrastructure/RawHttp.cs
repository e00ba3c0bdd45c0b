using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// One HTTP/1.1 request written byte for byte, for targets HttpClient would normalise first (dot segments,
/// percent-encoded unreserved characters, backslashes).
/// </summary>
public static class RawHttp
{
    public static async Task<(HttpStatusCode Status, string Headers, string Body)> SendAsync(
        int port, string target, string host = "127.0.0.1", string method = "GET", string extraHeaders = "")
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        await using var stream = tcp.GetStream();
        var request = $"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extraHeaders}Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request), timeout.Token); // UTF-8: a target may carry raw non-ASCII
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        var bytes = received.ToArray();
        var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(split > 0, $"no complete answer: {Encoding.UTF8.GetString(bytes)}");
        var head = Encoding.ASCII.GetString(bytes, 0, split);
        var body = bytes[(split + 4)..];
        var status = (HttpStatusCode)int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return (status, head, Encoding.UTF8.GetString(body));
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        using var body = new MemoryStream();
        var at = 0;
        for (var round = 0; round < 10_000; round++)
        {
            var line = at + chunked.AsSpan(at).IndexOf("\r\n"u8);
            var size = int.Parse(Encoding.ASCII.GetString(chunked, at, line - at), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            if (size == 0)
            {
                break;
            }

            body.Write(chunked, line + 2, size);
            at = line + 2 + size + 2;
        }

        return body.ToArray();
    }
}
