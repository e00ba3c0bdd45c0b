using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Tests.Infrastructure;
using Relay.Tunnel;
using TunnelProtocol;
using Microsoft.Extensions.Time.Testing;

namespace Relay.Tests.Tunnel;

/// <summary>
/// Issue 21, finding 9: strangers who open the tunnel WebSocket and leave, or answer the challenge wrongly, must not
/// flood the relay's journal. The relay runs on real Kestrel with the shipped log levels (appsettings.json:
/// Information, Microsoft.AspNetCore at Warning), every line it writes is collected, and its clock (handshake deadline
/// and log throttle) is moved by hand. Visitors come from distinct addresses (X-Forwarded-For from a trusted loopback
/// proxy), as behind the probe's stand-in proxy, so no per-address limit hides a line.
/// </summary>
public sealed class TunnelLogFloodTests
{
    private const int Flood = 200;

    [Fact]
    public async Task Handshakes_200AbandonedAnd200WrongAnswers_LogOneLineEachKindAMinute_WithTheCountHeldBack()
    {
        var time = new FakeTimeProvider();
        var log = new LogLines();
        var state = Directory.CreateTempSubdirectory("relay-logflood-").FullName;
        await using var app = await StartAsync(time, log, state);
        try
        {
            var uri = ConnectUri(app);
            var mark = log.All.Count;

            // 200 visitors open the WebSocket, read the challenge and never answer; the deadline cuts them all off.
            var waiting = new List<ClientWebSocket>();
            for (var i = 0; i < Flood; i++)
            {
                var socket = Visitor($"192.0.2.{i % 250}", i / 250);
                await socket.ConnectAsync(uri, CancellationToken.None);
                Assert.NotNull(await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None));
                waiting.Add(socket);
            }

            time.Advance(TunnelAcceptor.HandshakeTimeout);
            await Task.WhenAll(waiting.Select(EndedAsync)).WaitAsync(TimeSpan.FromSeconds(60));

            // 200 more answer with a wrong proof for the real name, each from its own address (each is checked).
            for (var i = 0; i < Flood; i++)
            {
                Assert.Equal(WebSocketCloseStatus.PolicyViolation, await WrongAnswerAsync(uri, $"198.51.100.{i % 250}", i / 250));
            }

            var flood = log.Since(mark);
            Assert.True(flood.Count == 2, "lines written during the flood:\n" + string.Join('\n', flood));
            Assert.Single(flood, l => l.Contains("Tunnel handshake from 192.0.2.", StringComparison.Ordinal) && l.Contains("abandoned (0 more since the last such line)", StringComparison.Ordinal));
            Assert.Single(flood, l => l.Contains("Tunnel login refused from 198.51.100.0 ", StringComparison.Ordinal) && l.Contains("(0 more refusals since the last such line)", StringComparison.Ordinal));

            // A minute later the next of each kind is logged, with how many were held back meanwhile.
            time.Advance(TimeSpan.FromMinutes(1));
            mark = log.All.Count;
            using (var late = Visitor("203.0.113.1", 0))
            {
                await late.ConnectAsync(uri, CancellationToken.None);
                Assert.NotNull(await TunnelHandshake.ReceiveTextAsync(late, CancellationToken.None));
                var ended = EndedAsync(late);
                time.Advance(TunnelAcceptor.HandshakeTimeout);
                await ended.WaitAsync(TimeSpan.FromSeconds(30));
            }

            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await WrongAnswerAsync(uri, "203.0.113.2", 0));
            var after = await WaitForLinesAsync(log, mark, 2);
            Assert.True(after.Count == 2, "lines written a minute later:\n" + string.Join('\n', after));
            Assert.Single(after, l => l.Contains("Tunnel handshake from 203.0.113.1 abandoned (199 more since the last such line)", StringComparison.Ordinal));
            Assert.Single(after, l => l.Contains("Tunnel login refused from 203.0.113.2", StringComparison.Ordinal) && l.Contains("(199 more refusals since the last such line)", StringComparison.Ordinal));
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(timeout.Token);
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>
    /// Finding 3: wrong tunnel logins from the appliance's own address (carrier-grade NAT, a guest device) neither lock
    /// it out nor make the relay blame its secret: the log says the right secret came from an address that also sent
    /// wrong answers, and nothing mentions Tunnel:Secret.
    /// </summary>
    [Fact]
    public async Task RightSecret_AfterWrongAnswersFromTheSameAddress_LogSaysSomeoneElseThereFailed_NotTheSecret()
    {
        var log = new LogLines();
        var state = Directory.CreateTempSubdirectory("relay-logflood-").FullName;
        await using var app = await StartAsync(TimeProvider.System, log, state);
        try
        {
            var uri = ConnectUri(app);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(WebSocketCloseStatus.PolicyViolation, await WrongAnswerAsync(uri, "192.0.2.50", 0));
            }

            using var socket = Visitor("192.0.2.50", 0);
            await socket.ConnectAsync(uri, CancellationToken.None);
            var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None))!)!;
            var proof = TunnelHandshake.Proof(RelayServer.Secret, TunnelHandshake.ConnectPurpose, RelayServer.Name, nonce);
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer(RelayServer.Name, proof), CancellationToken.None);
            Assert.Equal(TunnelHandshake.Accepted, await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None));

            var lines = await WaitForLinesAsync(log, 0, 1, l => l.Contains("connected from", StringComparison.Ordinal));
            Assert.Single(lines, l => l.StartsWith("Warning", StringComparison.Ordinal)
                && l.Contains("Appliance cam logged in from 192.0.2.50 with the right secret; 3 wrong logins for it came from that address", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("Tunnel:Secret", StringComparison.Ordinal));
            socket.Abort();
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(timeout.Token);
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>
    /// The relay's /status: 200 addresses each send its Basic login wrongly until it is refused unchecked (3 here):
    /// before, every wrong password and every address that reached the limit wrote a line of its own.
    /// </summary>
    [Fact]
    public async Task StatusLogins_WrongFrom200Addresses_LogOneLineEachKindAMinute_WithTheCountHeldBack()
    {
        var time = new FakeTimeProvider();
        var log = new LogLines();
        var state = Directory.CreateTempSubdirectory("relay-logflood-").FullName;
        await using var app = await StartAsync(time, log, state, "--Relay:AdminPassword=admin-pass", "--Relay:MaxAuthFailures=3", "--Relay:MaxAuthChecksPerSecond=1000");
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 1000 }) { BaseAddress = new Uri(address) };
            var mark = log.All.Count;

            // Each wrong password waits a second on the relay's clock: three rounds from 200 addresses at once.
            for (var round = 0; round < 3; round++)
            {
                var answers = await DriveAsync(time, [.. Enumerable.Range(0, Flood).Select(i => WrongStatusLoginAsync(client, $"192.0.2.{i}"))]);
                Assert.All(answers, s => Assert.Equal(System.Net.HttpStatusCode.Unauthorized, s));
            }

            var flood = log.Since(mark);
            Assert.True(flood.Count == 2, "lines written during the flood:\n" + string.Join('\n', flood));
            Assert.Single(flood, l => l.Contains("/status login refused from 192.0.2.", StringComparison.Ordinal) && l.Contains("(0 more refusals since the last such line)", StringComparison.Ordinal));
            Assert.Single(flood, l => l.Contains("/status logins from 192.0.2.", StringComparison.Ordinal) && l.Contains("(0 more addresses since the last such line)", StringComparison.Ordinal));

            // A minute later the next of each kind is logged, with how many were held back meanwhile (600 wrong
            // passwords, 200 addresses blocked).
            time.Advance(TimeSpan.FromMinutes(1));
            mark = log.All.Count;
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, Assert.Single(await DriveAsync(time, [WrongStatusLoginAsync(client, "203.0.113.9")])));
            }

            var after = log.Since(mark);
            Assert.True(after.Count == 2, "lines written a minute later:\n" + string.Join('\n', after));
            Assert.Single(after, l => l.Contains("/status login refused from 203.0.113.9 (599 more refusals since the last such line)", StringComparison.Ordinal));
            Assert.Single(after, l => l.Contains("/status logins from 203.0.113.9 failed 3 times", StringComparison.Ordinal) && l.Contains("(199 more addresses since the last such line)", StringComparison.Ordinal));
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(timeout.Token);
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>
    /// Moves the relay's clock in 100 ms steps until <paramref name="requests"/> are answered, at most 15 s of it (the
    /// flood's three rounds stay inside one minute of the log throttle).
    /// </summary>
    private static async Task<T[]> DriveAsync<T>(FakeTimeProvider time, List<Task<T>> requests)
    {
        var all = Task.WhenAll(requests);
        for (var i = 0; i < 150 && !all.IsCompleted; i++)
        {
            await Task.Delay(50);
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        return await all.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<System.Net.HttpStatusCode> WrongStatusLoginAsync(HttpClient client, string visitor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status");
        request.Headers.Add("X-Forwarded-For", visitor);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:not-the-password"u8.ToArray()));
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>The relay on real Kestrel at 127.0.0.1:0, behind a trusted loopback proxy, with the shipped log levels.</summary>
    private static async Task<WebApplication> StartAsync(TimeProvider time, LogLines log, string state, params string[] settings)
    {
        var app = Program.BuildApp(
            ["--urls=http://127.0.0.1:0", $"--Relay:StateDirectory={state}", $"--Relay:Appliances:{RelayServer.Name}:Secret={RelayServer.Secret}",
             "--Relay:TrustProxyHeaders=true", "--Logging:LogLevel:Default=Information", "--Logging:LogLevel:Microsoft.AspNetCore=Warning", .. settings],
            builder =>
            {
                builder.Services.AddSingleton(time);
                builder.Logging.AddProvider(log);
            });
        await app.StartAsync();
        return app;
    }

    private static Uri ConnectUri(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal)), TunnelHandshake.ConnectPath);
    }

    /// <summary>A WebSocket client as behind the trusted proxy: <paramref name="address"/>, made distinct by <paramref name="salt"/> in its last octet's /24 when needed.</summary>
    private static ClientWebSocket Visitor(string address, int salt)
    {
        var socket = new ClientWebSocket();
        var parts = address.Split('.');
        socket.Options.SetRequestHeader("X-Forwarded-For", salt == 0 ? address : $"{parts[0]}.{parts[1]}.{int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) + salt}.{parts[3]}");
        return socket;
    }

    private static async Task<WebSocketCloseStatus?> WrongAnswerAsync(Uri uri, string address, int salt)
    {
        using var socket = Visitor(address, salt);
        await socket.ConnectAsync(uri, CancellationToken.None);
        var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None))!)!;
        var proof = TunnelHandshake.Proof("not-the-secret-0123456789", TunnelHandshake.ConnectPurpose, RelayServer.Name, nonce);
        await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer(RelayServer.Name, proof), CancellationToken.None);
        Assert.Null(await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None));
        return socket.CloseStatus;
    }

    /// <summary>Completes when the relay has ended the connection (a close or an abrupt end).</summary>
    private static async Task EndedAsync(ClientWebSocket socket)
    {
        try
        {
            var buffer = new byte[256];
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (WebSocketException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>The abandoned-handshake line is written when the relay's handler notices; give it a moment, bounded.</summary>
    private static async Task<IReadOnlyList<string>> WaitForLinesAsync(LogLines log, int mark, int count, Func<string, bool>? counted = null)
    {
        counted ??= _ => true;
        for (var i = 0; i < 50 && log.Since(mark).Count(counted) < count; i++)
        {
            await Task.Delay(100);
        }

        await Task.Delay(200); // and nothing more arrives
        return log.Since(mark);
    }
}
