extern alias ApplianceApp;
using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Relay.Tunnel;
using TunnelProtocol;
using TunnelEgress = ApplianceApp::Appliance.Tunnel.TunnelEgress;
using TunnelState = ApplianceApp::Appliance.Tunnel.TunnelState;
using Microsoft.Extensions.Time.Testing;

namespace Relay.Tests;

public sealed class TunnelSecurityTests
{
    [Fact]
    public async Task WrongSecret_IsRefused_AndNeverConnects()
    {
        await using var relay = await RelayServer.StartAsync();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, secret: "a-wrong-secret-of-enough-length");
        await Task.Delay(1500);
        Assert.NotEqual(TunnelState.Connected, appliance.Tunnel.State);
        Assert.Contains("refused the login of 'cam' (authentication failed); check Tunnel:Name and Tunnel:Secret", appliance.Tunnel.LastError ?? "", StringComparison.Ordinal);
        Assert.Null(relay.Services.GetRequiredService<TunnelRegistry>().Get("cam"));
    }

    [Fact]
    public async Task ReplayedHandshake_IsRefused()
    {
        await using var relay = await RelayServer.StartAsync();
        var uri = new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath);

        using var first = new ClientWebSocket();
        await first.ConnectAsync(uri, CancellationToken.None);
        var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(first, CancellationToken.None))!)!;
        var answer = TunnelHandshake.Answer("cam", TunnelHandshake.Proof(RelayServer.Secret, TunnelHandshake.ConnectPurpose, "cam", nonce));
        await TunnelHandshake.SendTextAsync(first, answer, CancellationToken.None);
        Assert.Equal(TunnelHandshake.Accepted, await TunnelHandshake.ReceiveTextAsync(first, CancellationToken.None));

        // A recorder replays the same answer on a new connection: the nonce differs, so it fails.
        using var second = new ClientWebSocket();
        await second.ConnectAsync(uri, CancellationToken.None);
        _ = await TunnelHandshake.ReceiveTextAsync(second, CancellationToken.None);
        await TunnelHandshake.SendTextAsync(second, answer, CancellationToken.None);
        Assert.Null(await TunnelHandshake.ReceiveTextAsync(second, CancellationToken.None));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, second.CloseStatus);
        Assert.Equal("authentication failed", second.CloseStatusDescription);

        // The relay registers a session before confirming its login: the first one is there, and the only one.
        Assert.Single(relay.Services.GetRequiredService<TunnelRegistry>().All);
    }

    /// <summary>
    /// The relay registers a session before it confirms the login: an appliance that has read "accepted" is already
    /// routed to (before, a request right after could still get the offline page).
    /// </summary>
    [Fact]
    public async Task Handshake_AcceptedRead_SessionAlreadyRegistered()
    {
        await using var relay = await RelayServer.StartAsync();
        var uri = new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath);
        var registry = relay.Services.GetRequiredService<TunnelRegistry>();
        var sockets = new List<ClientWebSocket>();
        try
        {
            for (var round = 0; round < 100; round++)
            {
                var before = registry.Get("cam")?.Id;
                var socket = new ClientWebSocket();
                sockets.Add(socket);
                await socket.ConnectAsync(uri, CancellationToken.None);
                var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None))!)!;
                await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer("cam", TunnelHandshake.Proof(RelayServer.Secret, TunnelHandshake.ConnectPurpose, "cam", nonce)), CancellationToken.None);
                Assert.Equal(TunnelHandshake.Accepted, await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None));

                var current = registry.Get("cam")?.Id;
                Assert.True(current is not null && current != before, $"round {round}: the session was not registered yet when the login was confirmed");
            }
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task UnknownName_And_WrongSecret_LookTheSame()
    {
        await using var relay = await RelayServer.StartAsync();
        var unknown = await TryLoginAsync(relay, "nobody", "whatever-secret-123456");
        var wrong = await TryLoginAsync(relay, "cam", "whatever-secret-123456");
        Assert.Equal(unknown, wrong);
        Assert.Equal((WebSocketCloseStatus.PolicyViolation, "authentication failed"), wrong);

        // Not a WebSocket: the tunnel path answers like any unknown path.
        using var client = relay.CreateClient();
        using var plain = await client.GetAsync("/" + TunnelHandshake.ConnectPath);
        using var missing = await client.GetAsync("/no-such-thing");
        Assert.Equal(missing.StatusCode, plain.StatusCode);
    }

    /// <summary>
    /// A client that opens the tunnel WebSocket and never answers the challenge is cut off at the handshake timeout (on
    /// the relay's clock), having been told nothing but the challenge: no appliance names, no reason.
    /// </summary>
    [Fact]
    public async Task Handshake_ChallengeNeverAnswered_DisconnectedAtTheHandshakeTimeout_LearnsNothing()
    {
        var time = new FakeTimeProvider();
        await using var relay = await RelayServer.StartAsync(time);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath), CancellationToken.None);

        // The deadline is armed before the challenge is sent: once it is here, the relay is waiting on the clock.
        var challenge = await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None);
        var nonce = TunnelHandshake.ParseChallenge(challenge!);
        Assert.NotNull(nonce);
        Assert.Equal(TunnelHandshake.Challenge(nonce), challenge); // a nonce and nothing else

        var buffer = new byte[4096];
        var next = socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).AsTask();
        time.Advance(TunnelAcceptor.HandshakeTimeout - TimeSpan.FromSeconds(1));
        await Task.Delay(500);
        Assert.False(next.IsCompleted, "the relay ended the handshake before its timeout");

        time.Advance(TimeSpan.FromSeconds(1));
        var ended = await Record.ExceptionAsync(() => next.WaitAsync(TimeSpan.FromSeconds(5)));

        // Either an abrupt end or a bare close; never data, never a word about the appliances.
        Assert.IsNotType<TimeoutException>(ended);
        if (ended is null)
        {
            var result = await next;
            Assert.Equal(WebSocketMessageType.Close, result.MessageType);
            Assert.Equal(0, result.Count);
            Assert.DoesNotContain(RelayServer.Name, socket.CloseStatusDescription ?? "", StringComparison.OrdinalIgnoreCase);
        }
        else
        {
            Assert.IsType<WebSocketException>(ended);
        }

        Assert.NotEqual(WebSocketState.Open, socket.State);
        Assert.Empty(relay.Services.GetRequiredService<TunnelRegistry>().All);
    }

    [Fact]
    public async Task RepeatedFailures_AreRateLimited_ButTheRightSecretAndOtherNamesAreNot()
    {
        const string doorSecret = "door-secret-0123456789abcdef";
        await using var relay = await RelayServer.StartAsync("--Relay:MaxAuthFailures=3", $"--Relay:Appliances:door:Secret={doorSecret}", "--Relay:AllowSharedOriginPaths=true");
        for (var i = 0; i < 3; i++)
        {
            await TryLoginAsync(relay, "cam", "wrong-secret-0123456789");
        }

        var limiter = relay.Services.GetRequiredService<AuthFailureLimiter>();
        Assert.True(limiter.IsBlocked("127.0.0.1", "cam"));

        // Wrong answers from this address are refused at once now. Before, the right secret was refused too, so an
        // attacker sharing the appliance's address (carrier-grade NAT) locked it out for the window: now the real
        // appliance logs in (the secret cannot be guessed), which also clears the count. Another appliance is unaffected.
        Assert.NotNull(await TryLoginAsync(relay, "cam", "wrong-secret-0123456789"));
        Assert.Null(await TryLoginAsync(relay, "cam", RelayServer.Secret));
        Assert.False(limiter.IsBlocked("127.0.0.1", "cam"));
        Assert.False(limiter.IsBlocked("127.0.0.1", "door"));
        Assert.Null(await TryLoginAsync(relay, "door", doorSecret));
    }

    [Fact]
    public async Task RepeatedFailures_MadeUpNames_ShareOneCountPerAddress()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxAuthFailures=3");
        for (var i = 0; i < 3; i++)
        {
            await TryLoginAsync(relay, $"guess{i}", "wrong-secret-0123456789");
        }

        // A fourth made-up name gets no fresh attempts (and no entry of its own); the real appliance still may log in.
        var limiter = relay.Services.GetRequiredService<AuthFailureLimiter>();
        Assert.True(limiter.IsBlocked("127.0.0.1", "(unknown)"));
        Assert.Equal(1, limiter.Tracked);
        Assert.NotNull(await TryLoginAsync(relay, "guess3", "wrong-secret-0123456789"));
        Assert.Equal(1, limiter.Tracked);
        Assert.Null(await TryLoginAsync(relay, "cam", RelayServer.Secret));
    }

    [Fact]
    public async Task SecondApplianceClaimingName_WithoutSecret_DoesNotDisturbTheFirst()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var (relay, real) = tunnelled;
        var session = relay.Services.GetRequiredService<TunnelRegistry>().Get("cam");

        await using var impostor = await TunnelledAppliance.StartAsync(relay.TunnelUrl, secret: "impostor-secret-0123456789");
        await Task.Delay(1500);
        Assert.NotEqual(TunnelState.Connected, impostor.Tunnel.State);
        Assert.Same(session, relay.Services.GetRequiredService<TunnelRegistry>().Get("cam"));
        Assert.Equal(TunnelState.Connected, real.Tunnel.State);
    }

    [Fact]
    public async Task NewSession_SameAppliance_ReplacesOldAtOnce()
    {
        await using var relay = await RelayServer.StartAsync();
        var uri = new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath);
        using var old = await RawTunnel.LoginAsync(uri);
        var registry = relay.Services.GetRequiredService<TunnelRegistry>();
        var first = registry.Get("cam");
        Assert.NotNull(first);

        // The relay registers the new session and closes the old one before it confirms the login: by the time the
        // new connection hears "ok", the old session is gone and requests go to the new one.
        using var fresh = await RawTunnel.LoginAsync(uri);
        Assert.NotSame(first, registry.Get("cam"));
        Assert.NotNull(registry.Get("cam"));
        Assert.True(first!.Ended.IsCompleted);
        Assert.False(first.IsOpen);
    }

    [Fact]
    public async Task Egress_AllowedHost_CarriesTlsEndToEnd_OtherHostsRefused()
    {
        // A TLS server on loopback stands for qyapi.weixin.qq.com.
        using var key = RSA.Create(2048);
        var certificateRequest = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var builder = new SubjectAlternativeNameBuilder();
        builder.AddDnsName("localhost");
        certificateRequest.CertificateExtensions.Add(builder.Build());
        using var created = certificateRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        var apiBuilder = WebApplication.CreateSlimBuilder();
        apiBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(certificate)));
        await using var api = apiBuilder.Build();
        api.Run(context => context.Response.WriteAsync("api says hi"));
        await api.StartAsync();
        var apiPort = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

        // Allowed too, but nothing listens there.
        var deadPort = FreeLoopbackPort();
        await using var tunnelled = await RelayWithAppliance.StartAsync([$"--Relay:EgressAllowList:0=localhost:{apiPort}", $"--Relay:EgressAllowList:1=localhost:{deadPort}"]);
        var (relay, appliance) = tunnelled;
        var egress = appliance.Services.GetRequiredService<TunnelEgress>();
        var handler = egress.CreateHandler();
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            // TLS runs appliance ↔ API; the relay only moves bytes. Trust exactly the test certificate.
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == certificate.GetCertHashString(),
        };
        using var client = new HttpClient(handler);
        Assert.Equal("api says hi", await client.GetStringAsync($"https://localhost:{apiPort}/cgi-bin/gettoken"));

        // Each refusal says what the relay said, not that the tunnel's credentials are wrong.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => egress.OpenAsync("example.com", 443, CancellationToken.None));
        Assert.Equal("The relay refused egress to example.com:443: the host is not on the relay's Relay:EgressAllowList.", refused.Message);
        var otherPort = await Assert.ThrowsAnyAsync<Exception>(() => egress.OpenAsync("localhost", apiPort + 1, CancellationToken.None));
        Assert.Contains("not on the relay's Relay:EgressAllowList", otherPort.Message, StringComparison.Ordinal);
        var unreachable = await Assert.ThrowsAnyAsync<Exception>(() => egress.OpenAsync("localhost", deadPort, CancellationToken.None));
        Assert.Equal($"The relay cannot open egress to localhost:{deadPort}: it cannot reach the host.", unreachable.Message);
        Assert.Equal(TunnelState.Connected, appliance.Tunnel.State);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Null when accepted, otherwise how the relay closed.</summary>
    private static async Task<(WebSocketCloseStatus?, string?)?> TryLoginAsync(RelayServer relay, string name, string secret)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath), CancellationToken.None);
        var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None))!)!;
        await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer(name, TunnelHandshake.Proof(secret, TunnelHandshake.ConnectPurpose, name, nonce)), CancellationToken.None);
        var verdict = await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None);
        return verdict == TunnelHandshake.Accepted ? null : (socket.CloseStatus, socket.CloseStatusDescription);
    }
}
