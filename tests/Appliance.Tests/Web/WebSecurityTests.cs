using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Web;

/// <summary>Cross-site requests and the security headers (the probe's finding 6), on a real appliance.</summary>
public sealed class WebSecurityTests
{
    private const string Password = "correct horse";

    private static Task<ApplianceServer> StartAsync() =>
        ApplianceServer.StartAsync("--Web:TrustLoopback=false", $"--Web:Password={Password}", "--Gpio:Pins:door:Line=5");

    private static async Task<string> LoginAsync(HttpClient client)
    {
        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/" }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return login.Headers.GetValues("Set-Cookie").First(v => v.StartsWith("appliance_session=", StringComparison.Ordinal)).Split(';')[0];
    }

    private static HttpRequestMessage Switch(string? cookie, string? origin, string? site, bool basic = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/gpio/door?action=on");
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (basic)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"family:{Password}")));
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (site is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", site);
        }

        return request;
    }

    [Theory]
    [InlineData("https://evil.example", "cross-site")]
    [InlineData("https://evil.example", null)]
    [InlineData("null", null)]
    [InlineData(null, "cross-site")]
    [InlineData(null, "same-site")]
    public async Task StateChange_FromAnotherSite_RefusedWhateverTheCredential(string? origin, string? site)
    {
        // Before: a session cookie with Origin https://evil.example and Sec-Fetch-Site cross-site switched an output.
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client);

        // Also without any credential: before, that got 401 with a Basic challenge, and Chromium asked for the password
        // for the attacker's pending request (the probe's form POST). A 403 without WWW-Authenticate prompts nothing.
        foreach (var request in new[] { Switch(cookie, origin, site), Switch(null, origin, site, basic: true), Switch(null, origin, site) })
        {
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Empty(response.Headers.WwwAuthenticate);
            Assert.Contains("another site", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var login = new HttpRequestMessage(HttpMethod.Post, "/api/links?path=/stream");
        login.Headers.Add("Cookie", cookie);
        login.Headers.Add("Origin", origin ?? "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(login)).StatusCode);
        var pins = new HttpRequestMessage(HttpMethod.Get, "/api/gpio");
        pins.Headers.Add("Cookie", cookie);
        Assert.Contains("\"on\":false", await (await client.SendAsync(pins)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StateChange_FromTheAppliancesOwnPageOrANonBrowser_Allowed()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client);
        var own = $"http://127.0.0.1:{server.BaseAddress.Port}";

        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Switch(cookie, own, "same-origin"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Switch(cookie, own, null))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Switch(null, null, null, basic: true))).StatusCode); // curl, Home Assistant
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/login")]
    [InlineData("/api/status")]
    [InlineData("/healthz")]
    [InlineData("/no-such-page")]
    public async Task EveryAnswer_CarriesTheSecurityHeaders(string path)
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var response = await client.GetAsync(path);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'sha256-", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline' ; script", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
    }
}

public sealed class StatusForLinkHoldersTests
{
    [Fact]
    public async Task Status_LinkHolder_DoesNotSeeTheTunnelBlock_AdminDoes()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=correct horse");
        using var client = server.CreateClient();
        var link = server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/api/status", TimeSpan.FromMinutes(5));
        var asViewer = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync(new Uri(link, UriKind.Relative)))!.AsObject();
        Assert.False(asViewer.ContainsKey("tunnel"), asViewer.ToJsonString());
        Assert.True(asViewer.ContainsKey("viewers"));

        var admin = new HttpRequestMessage(HttpMethod.Get, "/api/status");
        admin.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("family:correct horse")));
        var asAdmin = System.Text.Json.Nodes.JsonNode.Parse(await (await client.SendAsync(admin)).Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("disabled", (string?)asAdmin["tunnel"]?["state"]);
    }
}
