using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Hosting;

/// <summary>The relay's <c>/status</c>: who may see it, and every field it documents, against what really happened.</summary>
public sealed class RelayStatusTests
{
    private static AuthenticationHeaderValue Admin(string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + password)));

    [Fact]
    public async Task Status_WithoutOrWithWrongPassword_Unauthorized()
    {
        await using var relay = await RelayServer.StartAsync();
        using var client = relay.CreateClient();

        using var anonymous = await client.GetAsync("/status");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("Basic", anonymous.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin("not-the-password") } };
        using var refused = await client.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.DoesNotContain("cam", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_ParallelWrongPasswordsPastMaxAuthFailures_RestGet429_EvenTheRightOne_TunnelUnaffected()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxAuthFailures=3");
        using var client = relay.CreateClient();

        // Requests without credentials (a browser's first try) are not guesses and do not count.
        for (var i = 0; i < 5; i++)
        {
            using var anonymous = await client.GetAsync("/status");
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        // Ten guesses at once: the one-second delay is per request, so only the count stops them.
        var guesses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin("guess-" + i) } };
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }));
        Assert.Equal(3, guesses.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(7, guesses.Count(s => s == HttpStatusCode.TooManyRequests));

        using var right = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin(RelayServer.AdminPassword) } };
        using var blocked = await client.SendAsync(right);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(5), blocked.Headers.RetryAfter?.Delta);
        Assert.DoesNotContain("cam", await blocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Tunnel logins from the same address are counted apart.
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl);
        await appliance.WaitConnectedAsync();
    }

    [Fact]
    public async Task Status_RightPasswordAfterWrongOnes_ResetsTheCount()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxAuthFailures=2");
        using var client = relay.CreateClient();
        async Task<HttpStatusCode> AskAsync(string password)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin(password) } };
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await AskAsync("typo"));
        Assert.Equal(HttpStatusCode.OK, await AskAsync(RelayServer.AdminPassword));
        Assert.Equal(HttpStatusCode.Unauthorized, await AskAsync("typo"));
        Assert.Equal(HttpStatusCode.OK, await AskAsync(RelayServer.AdminPassword));
    }

    [Fact]
    public async Task Status_NoAdminPasswordConfigured_ForbiddenWithHint()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:AdminPassword=");
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin("") } };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Relay:AdminPassword", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_OnlineApplianceWithViewer_ReportsAgeRttViewersBytesAndQueue()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:Appliances:shed:Secret=another-appliance-secret-0123", "--Relay:Appliances:shed:WeComToken=QDG6eK", "--Relay:AllowSharedOriginPaths=true");
        using var client = relay.CreateClient();

        // A callback for the offline appliance is stored, and /status counts it.
        using (var stored = await CallbackStoreAndForwardTests.PostCallbackAsync(client, "queued", "/shed/wecom/callback"))
        {
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        var beforeConnect = Stopwatch.StartNew();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl);
        await appliance.WaitConnectedAsync();

        // One viewer of the stream, still watching while /status is asked.
        using var viewerRequest = new HttpRequestMessage(HttpMethod.Get, "/cam/stream") { Headers = { Authorization = TunnelledAppliance.FamilyLogin } };
        using var viewer = await client.SendAsync(viewerRequest, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, viewer.StatusCode);
        await using var body = await viewer.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        var received = 0;
        while (received < 32 * 1024)
        {
            var n = await body.ReadAsync(buffer);
            Assert.True(n > 0, "the stream ended");
            received += n;
        }

        await Task.Delay(1500); // past the first ping, so the round trip is measured, and over a second of age
        var ageUpperBound = beforeConnect.Elapsed.TotalSeconds;
        var status = await GetStatusAsync(client);

        var appliances = status["appliances"]!.AsArray();
        Assert.Equal(["cam", "shed"], appliances.Select(a => a!["name"]!.GetValue<string>()));
        Assert.True(DateTimeOffset.TryParse(status["time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, out var time));
        Assert.InRange(DateTimeOffset.UtcNow - time, TimeSpan.Zero, TimeSpan.FromSeconds(30));

        var cam = appliances[0]!;
        Assert.True(cam["online"]!.GetValue<bool>());
        Assert.StartsWith("127.0.0.1", cam["remote"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(cam["connectedSeconds"]!.GetValue<double>(), 1, Math.Ceiling(ageUpperBound));
        Assert.InRange(cam["pingRttMs"]!.GetValue<double>(), 0, 1000);
        Assert.Equal(1, cam["viewers"]!.GetValue<int>());
        Assert.True(cam["streamUpstreamOpen"]!.GetValue<bool>());
        Assert.True(cam["framesRelayed"]!.GetValue<long>() >= 1);

        // The viewer got at least what it read through the tunnel; requests went the other way.
        Assert.True(cam["bytesFromAppliance"]!.GetValue<long>() >= received, $"bytesFromAppliance {cam["bytesFromAppliance"]} < {received} read by the viewer");
        Assert.True(cam["bytesToAppliance"]!.GetValue<long>() > 0);
        Assert.Equal(0, cam["queuedCallbacks"]!.GetValue<int>());

        var shed = appliances[1]!;
        Assert.False(shed["online"]!.GetValue<bool>());
        Assert.Null(shed["remote"]);
        Assert.Null(shed["connectedSeconds"]);
        Assert.Null(shed["pingRttMs"]);
        Assert.Null(shed["bytesFromAppliance"]);
        Assert.Equal(0, shed["viewers"]!.GetValue<int>());
        Assert.False(shed["streamUpstreamOpen"]!.GetValue<bool>());
        Assert.Equal(1, shed["queuedCallbacks"]!.GetValue<int>());

        // The viewer leaves: the count drops at once, the upstream stays open for Relay:StreamLinger (1 s here), then closes.
        viewer.Dispose();
        var deadline = Stopwatch.StartNew();
        JsonNode after;
        do
        {
            await Task.Delay(100);
            after = (await GetStatusAsync(client))["appliances"]![0]!;
        }
        while (after["streamUpstreamOpen"]!.GetValue<bool>() && deadline.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Equal(0, after["viewers"]!.GetValue<int>());
        Assert.False(after["streamUpstreamOpen"]!.GetValue<bool>(), "the upstream stayed open 10 s after the last viewer left (StreamLinger is 1 s)");
        Assert.True(after["bytesFromAppliance"]!.GetValue<long>() >= cam["bytesFromAppliance"]!.GetValue<long>());
    }

    private static async Task<JsonNode> GetStatusAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = Admin(RelayServer.AdminPassword) } };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }
}
