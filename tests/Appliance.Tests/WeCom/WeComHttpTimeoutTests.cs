using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Tests.Infrastructure;
using Appliance.WeCom.Api;

namespace Appliance.Tests.WeCom;

/// <summary>
/// Issue 21, finding 9: the WeCom send hung after gettoken against a server that answered HTTP/1.0 and closed. Every
/// call is bounded by <c>WeCom:HttpTimeout</c>, the body included. A raw loopback TCP server plays the misbehaving API.
/// </summary>
public sealed class WeComHttpTimeoutTests
{
    public enum Misbehaviour
    {
        /// <summary>"HTTP/1.0 200 OK", headers, no body, connection closed.</summary>
        AnswersHttp10AndCloses,

        /// <summary>Reads the request and never answers.</summary>
        NeverAnswers,

        /// <summary>HTTP/1.0 headers, then nothing more, the connection left open.</summary>
        HeadersThenStalls,
    }

    [Theory]
    [InlineData(Misbehaviour.AnswersHttp10AndCloses, "message/send answered something that is not JSON")]
    [InlineData(Misbehaviour.NeverAnswers, "message/send: no complete answer within 1.5 s (WeCom:HttpTimeout)")]
    [InlineData(Misbehaviour.HeadersThenStalls, "message/send: no complete answer within 1.5 s (WeCom:HttpTimeout)")]
    public async Task Send_AfterGettoken_ServerMisbehaves_FailsWithAClearErrorInBoundedTime(Misbehaviour misbehaviour, string expected)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = ServeAsync(listener, misbehaviour, stop.Token);
        var api = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        await using var server = await ApplianceServer.StartAsync(
            WeComCallbackClient.Settings(null, $"--WeCom:ApiBaseUrl={api}", "--WeCom:HttpTimeout=00:00:01.5"));
        var client = server.GetRequiredService<WeComApiClient>();

        var watch = Stopwatch.StartNew();
        var result = await client.SendAsync("alice", new TextMessage("door opened"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        watch.Stop();
        await stop.CancelAsync();

        Assert.False(result.IsSuccess);
        Assert.Equal(WeComErrorKind.Transport, result.Error?.Kind);
        Assert.Contains(expected, result.Error?.ToString(), StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        await serving;
    }

    /// <summary>Answers gettoken properly (HTTP/1.0, then closes); every other call the way <paramref name="misbehaviour"/> says.</summary>
    private static async Task ServeAsync(TcpListener listener, Misbehaviour misbehaviour, CancellationToken stop)
    {
        List<TcpClient> held = [];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var tcp = await listener.AcceptTcpClientAsync(stop);
                var stream = tcp.GetStream();
                var request = await ReadHeadAsync(stream, stop);
                if (request.Contains("/cgi-bin/gettoken", StringComparison.Ordinal))
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(
                        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":\"tok\",\"expires_in\":7200}"), stop);
                    tcp.Dispose();
                    continue;
                }

                switch (misbehaviour)
                {
                    case Misbehaviour.AnswersHttp10AndCloses:
                        await stream.WriteAsync("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"u8.ToArray(), stop);
                        tcp.Dispose();
                        break;
                    case Misbehaviour.HeadersThenStalls:
                        await stream.WriteAsync("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"errcode\""u8.ToArray(), stop);
                        held.Add(tcp);
                        break;
                    default:
                        held.Add(tcp);
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The test is over.
        }
        finally
        {
            held.ForEach(t => t.Dispose());
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken stop)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, stop);
            if (n == 0)
            {
                break;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        // message/send has a small JSON body (Content-Length): read it so closing does not reset the connection.
        var text = head.ToString();
        var lengthAt = text.IndexOf("Content-Length:", StringComparison.OrdinalIgnoreCase);
        if (lengthAt >= 0)
        {
            var end = text.IndexOf("\r\n", lengthAt, StringComparison.Ordinal);
            var length = int.Parse(text[(lengthAt + 15)..end].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var have = text.Length - (text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
            while (have < length)
            {
                var n = await stream.ReadAsync(buffer, stop);
                if (n == 0)
                {
                    break;
                }

                have += n;
            }
        }

        return text;
    }
}
