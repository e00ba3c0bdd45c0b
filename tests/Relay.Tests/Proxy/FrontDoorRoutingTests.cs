extern alias ApplianceApp;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Relay.Streaming;
using Relay.Tests.Infrastructure;
using Relay.Tunnel;
using Relay.WeCom;
using TunnelProtocol;
using ViewerTracker = ApplianceApp::Appliance.Streaming.ViewerTracker;

namespace Relay.Tests.Proxy;

/// <summary>How the front door maps a public request onto an appliance: paths, special paths, hosts, a dying tunnel.</summary>
public sealed class FrontDoorRoutingTests
{
    [Theory]
    [InlineData("/cam/test/raw/ech%256f", "/test/raw/ech%256f", "/test/raw/ech%6f", "")]
    [InlineData("/cam/test/raw/echo%3Fa=b", "/test/raw/echo%3Fa=b", "/test/raw/echo?a=b", "")]
    [InlineData("/cam/test/raw/echo%23frag?x=%2541", "/test/raw/echo%23frag?x=%2541", "/test/raw/echo#frag", "?x=%2541")]
    [InlineData("/cam/test/raw/x/%252e%252e/y", "/test/raw/x/%252e%252e/y", "/test/raw/x/%2e%2e/y", "")]
    [InlineData("/cam/test/raw/a%2Fb%5Cc", "/test/raw/a%2Fb%5Cc", "/test/raw/a%2Fb\\c", "")]
    [InlineData("/cam/test/raw/a\\b", "/test/raw/a\\b", "/test/raw/a\\b", "")]
    [InlineData("/cam/test/raw/%C3%A9t%C3%A9", "/test/raw/%C3%A9t%C3%A9", "/test/raw/été", "")]
    [InlineData("/%63am/test/raw/%41~%7E", "/test/raw/%41~%7E", "/test/raw/A~~", "")]
    public async Task Forward_PercentEncodedPath_ReachesApplianceExactlyAsSent(string sent, string raw, string path, string query)
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;

        var (status, _, body) = await RawHttp.SendAsync(relay.Port, sent);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"raw={raw}\npath={path}\nquery={query}", body);
    }

    /// <summary>The auditor's targets: once decoded twice each became /test/echo.</summary>
    [Theory]
    [InlineData("/cam/test/ech%256f")]
    [InlineData("/cam/test/echo%3Fa=b")]
    [InlineData("/cam/test/echo%23frag")]
    [InlineData("/cam/x/%252e%252e/test/echo")]
    public async Task Forward_EncodedTarget_NotDecodedTwice(string sent)
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;

        var (status, _, body) = await RawHttp.SendAsync(relay.Port, sent);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.DoesNotContain("path=/test/echo", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/cam/x/../test/echo")]
    [InlineData("/cam/x/%2e%2E/test/echo")]
    [InlineData("/cam/./test/echo")]
    [InlineData("/cam/../cam/test/echo")]
    public async Task Forward_DotSegments_Refused400(string sent)
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;

        var (status, _, body) = await RawHttp.SendAsync(relay.Port, sent);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Bad request path.\n", body);
    }

    [Fact]
    public async Task Stream_CaseAndTrailingSlashVariants_ShareTheOneUpstream()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var (relay, appliance) = tunnelled;
        var applianceViewers = appliance.Services.GetRequiredService<ViewerTracker>();
        var hub = relay.Services.GetRequiredService<StreamFanOuts>().For("cam");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string[] paths = ["/cam/STREAM", "/cam/stream/", "/cam/Stream"];
        var clients = paths.Select(_ => relay.CreateClient()).ToList();
        try
        {
            var counts = await Task.WhenAll(paths.Select((p, i) => EndToEndTests.ReadFramesAsync(clients[i], 5, cancel.Token, p)));

            Assert.All(counts, c => Assert.Equal(5, c));
            Assert.Equal(1, hub.UpstreamStarts);
            Assert.Equal(1, applianceViewers.Count);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Theory]
    [InlineData("/cam/wecom/callback/")]
    [InlineData("/cam/WeCom/callback")]
    [InlineData("/cam/WECOM/CALLBACK/")]
    [InlineData("/cam/wecom//callback")]
    public async Task Callback_CaseAndTrailingSlashVariants_StoredWhileOffline(string path)
    {
        await using var relay = await RelayServer.StartAsync();
        using var client = relay.CreateClient();

        using var response = await CallbackStoreAndForwardTests.PostCallbackAsync(client, "m1", path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));

        // And the signature is checked there too.
        using var forged = await client.PostAsync(path + "?msg_signature=0&timestamp=1&nonce=2", new StringContent("<xml/>", Encoding.UTF8, "text/xml"));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
    }

    [Theory]
    [InlineData("/cam/_relay/authorize")]
    [InlineData("/cam/_RELAY/authorize")]
    [InlineData("/cam/_Relay/Authorize/")]
    [InlineData("/cam/%5frelay/authorize")]
    [InlineData("/cam/%5F%72elay/authorize")]
    [InlineData("/cam//_relay/authorize")]
    public async Task RelayPaths_AnySpelling_NotReachableFromOutside(string path)
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;
        var basic = TunnelledAppliance.FamilyLogin.Parameter;

        var (status, _, _) = await RawHttp.SendAsync(relay.Port, path, extraHeaders: $"Authorization: Basic {basic}\r\n");

        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Theory]
    [InlineData("Cam.Example.Test", "cam.example.test.")]
    [InlineData("cam.example.test.", "cam.example.test")]
    [InlineData("cam.example.test.", "CAM.example.test.")]
    public async Task HostRoute_TrailingDot_SameHost(string configured, string requested)
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync([$"--Relay:Appliances:{RelayServer.Name}:Hosts:0={configured}"]);
        var relay = tunnelled.Relay;

        var (status, _, body) = await RawHttp.SendAsync(relay.Port, "/test/echo", host: requested);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("pathbase=\n", body, StringComparison.Ordinal);
        Assert.Contains("path=/test/echo", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardedHeaders_ForgedByVisitor_AppliancesReceivesOnlyTheRelaysAndAppliesThem()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        // What the appliance receives.
        using var forgedHeaders = Forged("/cam/test/headers");
        using var response = await client.SendAsync(forgedHeaders);
        var headers = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(
            ["x-forwarded-for: 127.0.0.1", $"x-forwarded-host: 127.0.0.1:{relay.Port}", "x-forwarded-prefix: /cam", "x-forwarded-proto: http"],
            headers.Where(h => h.StartsWith("x-forwarded-", StringComparison.Ordinal)).ToArray());
        Assert.DoesNotContain(headers, h => h.StartsWith("forwarded:", StringComparison.Ordinal) || h.StartsWith("x-real-ip:", StringComparison.Ordinal)
            || h.StartsWith("x-relay-", StringComparison.Ordinal));
        Assert.DoesNotContain(headers, h => h.Contains("6.6.6.6", StringComparison.Ordinal) || h.Contains("evil", StringComparison.Ordinal));

        // What the appliance makes of it: the visitor's address, the prefix and host the relay gave, a tunnelled request.
        using var forgedEcho = Forged("/cam/test/echo");
        using var echoed = await client.SendAsync(forgedEcho);
        var echo = await echoed.Content.ReadAsStringAsync();

        Assert.Contains("remote=127.0.0.1", echo, StringComparison.Ordinal);
        Assert.DoesNotContain("6.6.6.6", echo, StringComparison.Ordinal);
        Assert.Contains("pathbase=/cam\n", echo, StringComparison.Ordinal);
        Assert.Contains("path=/test/echo", echo, StringComparison.Ordinal);
        Assert.Contains($"host=127.0.0.1:{relay.Port}", echo, StringComparison.Ordinal);
        Assert.Contains("tunnel=True", echo, StringComparison.Ordinal);
        Assert.Contains("local=False", echo, StringComparison.Ordinal);

        static HttpRequestMessage Forged(string path)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "/evil");
            request.Headers.TryAddWithoutValidation("Forwarded", "for=6.6.6.6;proto=https");
            request.Headers.TryAddWithoutValidation("X-Real-IP", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Relay-Replayed-At", "1700000000");
            request.Headers.TryAddWithoutValidation("X-Relay-Time-Checked", "1700000000");
            request.Headers.TryAddWithoutValidation("X-Relay-Key", "guess");
            return request;
        }
    }

    [Fact]
    public async Task Callback_VisitorForgesRelayTimeHeaders_ReplacedOnLiveForward()
    {
        var recorder = new CallbackRecorder();
        await using var tunnelled = await RelayWithAppliance.StartAsync(callbacks: recorder);
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-Relay-Replayed-At", "1700000000");
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-Relay-Time-Checked", "1700000000");

        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var response = await CallbackStoreAndForwardTests.PostCallbackAsync(client, "m1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", Assert.Single(recorder.Received).ReplayedAt);
        // One value, the relay's own time of the check, not the visitor's.
        var checkedAt = long.Parse(Assert.Single(recorder.TimeChecked), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(checkedAt, before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    /// <summary>
    /// The auditor's repro: the appliance is asked whether a viewer may watch over a link that went dark; meanwhile
    /// the appliance logs in again and the old session is closed. Once that ended the visitor with a 500.
    /// </summary>
    [Fact]
    public async Task Stream_SessionReplacedWhileAuthorizing_Gets503Page()
    {
        await using var tunnelled = await RelayWithAppliance.StartThroughFreezableLinkAsync();
        var relay = tunnelled.Relay;
        var frozen = relay.Services.GetRequiredService<TunnelRegistry>().Get("cam");
        tunnelled.Link!.Freeze();

        using var client = relay.CreateClient();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/cam/stream") { Headers = { Authorization = TunnelledAppliance.FamilyLogin } };
        var visitor = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        await Task.Delay(1000);
        Assert.False(visitor.IsCompleted, "the authorization was answered over a frozen link");

        using var fresh = await RawTunnel.LoginAsync(new Uri(relay.TunnelUrl, TunnelHandshake.ConnectPath));
        await frozen!.Ended.WaitAsync(TimeSpan.FromSeconds(5));
        using var response = await visitor;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter?.Delta);
        Assert.Contains("cam is offline", await response.Content.ReadAsStringAsync(cancel.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TunnelSession_SendAfterClosed_FailsLikeADroppedTunnel()
    {
        var options = new Relay.Hosting.RelayOptions();
        var session = new TunnelSession("cam", "127.0.0.1", new MemoryStream(), TunnelHandshake.NewNonce(), RelayServer.Secret, options, TimeProvider.System);
        session.Open();
        await session.DisposeAsync();
        using var request = TunnelSession.NewRequest(HttpMethod.Get, "/healthz");

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => session.SendAsync(request, CancellationToken.None));

        Assert.Contains("closed", failure.Message, StringComparison.Ordinal);
    }
}
