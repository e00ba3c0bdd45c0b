extern alias ApplianceApp;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Streaming;

/// <summary>Finding 8 of issue 21: one leaked link opened 2,000 streams through the relay (145 → 418 MB).</summary>
public sealed class RelayStreamLimitTests
{
    private static async Task<HttpResponseMessage> OpenAsync(HttpClient client, string path, string? forwardedFor = null, bool login = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (login)
        {
            request.Headers.Authorization = TunnelledAppliance.FamilyLogin;
        }

        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task Stream_MoreThanMaxStreamsPerClient_Gets429_PerVisitorAddressBehindAProxy()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync(["--Relay:MaxStreamsPerClient=2", "--Relay:TrustProxyHeaders=true"]);
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        using var first = await OpenAsync(client, "/cam/stream", "203.0.113.7");
        using var second = await OpenAsync(client, "/cam/stream", "203.0.113.7");
        using var third = await OpenAsync(client, "/cam/stream", "203.0.113.7");
        using var otherAddress = await OpenAsync(client, "/cam/stream", "198.51.100.9");
        using var sameV6Block = await OpenAsync(client, "/cam/stream", "2001:db8::1");
        using var sameV6Block2 = await OpenAsync(client, "/cam/stream", "2001:db8::2");
        using var sameV6Block3 = await OpenAsync(client, "/cam/stream", "2001:db8::3");

        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            [first.StatusCode, second.StatusCode, third.StatusCode, otherAddress.StatusCode, sameV6Block.StatusCode, sameV6Block2.StatusCode, sameV6Block3.StatusCode]);
        Assert.Equal(TimeSpan.FromSeconds(10), third.Headers.RetryAfter?.Delta);
        Assert.Contains("Too many streams open from this address", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_MoreThanMaxStreamsPerLink_Gets429FromAnyAddress_ALoginStillWatches()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync(["--Relay:MaxStreamsPerLink=2", "--Relay:TrustProxyHeaders=true"]);
        var (relay, appliance) = tunnelled;
        var link = appliance.Services.GetRequiredService<ApplianceApp::Appliance.Auth.LinkSigner>().Sign("/stream", TimeSpan.FromMinutes(30));
        using var handler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = relay.BaseAddress };

        using var first = await OpenAsync(client, "/cam" + link, "203.0.113.1", login: false);
        using var second = await OpenAsync(client, "/cam" + link, "203.0.113.2", login: false);
        using var third = await OpenAsync(client, "/cam" + link, "203.0.113.3", login: false);
        using var byLogin = await OpenAsync(client, "/cam/stream", "203.0.113.3");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK],
            [first.StatusCode, second.StatusCode, third.StatusCode, byLogin.StatusCode]);
        Assert.Contains("Too many streams open with this link", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The link's cookie, with a made-up ?t= beside it, is still the same link.
        using var cookieRequest = new HttpRequestMessage(HttpMethod.Get, "/cam/stream?t=made-up");
        cookieRequest.Headers.Add("X-Forwarded-For", "203.0.113.4");
        cookieRequest.Headers.Add("Cookie", "appliance_link=" + link[(link.IndexOf("?t=", StringComparison.Ordinal) + 3)..]);
        using var byCookie = await client.SendAsync(cookieRequest, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.TooManyRequests, byCookie.StatusCode);
    }

    [Fact]
    public async Task Stream_MoreThanMaxStreams_Gets503()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync(["--Relay:MaxStreams=2"]);
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        using var first = await OpenAsync(client, "/cam/stream");
        using var second = await OpenAsync(client, "/cam/stream");
        using var third = await OpenAsync(client, "/cam/stream");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable], [first.StatusCode, second.StatusCode, third.StatusCode]);
        Assert.Contains("Too many streams open on this server", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_MoreThanMaxConnections_ClosedUnanswered_APlaceFreesWhenOneCloses()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxConnections=2");
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(IPAddress.Loopback, relay.Port);
        await second.ConnectAsync(IPAddress.Loopback, relay.Port);
        Assert.Equal("HTTP/1.1", await HealthProbe.AskAsync(second));

        Assert.Equal("", await HealthProbe.ConnectAndAskAsync(relay.Port));

        first.Dispose();
        Assert.Equal("HTTP/1.1", await HealthProbe.AskUntilAnsweredAsync(relay.Port, TimeSpan.FromSeconds(5)));
    }
}
