using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Appliance.Auth;
using Appliance.Tests.Hardware;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.Extensions.DependencyInjection;
using SetCookie = Microsoft.Net.Http.Headers.SetCookieHeaderValue;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Auth;

/// <summary>
/// Remote clients are simulated with Web:TrustLoopback=false (the setting for a reverse proxy on the same machine),
/// so these requests from 127.0.0.1 are treated exactly like ones from the LAN.
/// </summary>
public sealed class WebAuthTests
{
    private const string Password = "correct horse";

    private static Task<ApplianceServer> StartRemoteAsync(params string[] settings) =>
        ApplianceServer.StartAsync(["--Web:TrustLoopback=false", .. settings]);

    private static HttpRequestMessage Get(string path, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return request;
    }

    [Fact]
    public async Task Loopback_NeedsNoLogin()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task Remote_NoPasswordConfigured_GetsPageSayingHowToSetOne()
    {
        await using var server = await StartRemoteAsync();
        using var client = server.CreateClient();
        var response = await client.SendAsync(Get("/", "text/html"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("Web:PasswordHash", page, StringComparison.Ordinal);
        Assert.Contains("hash-password", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/stream")).StatusCode);
    }

    [Fact]
    public async Task Remote_WithoutCredentials_BrowserIsSentToLogin_OthersGetBasicChallenge()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();

        var page = await client.SendAsync(Get("/?x=1", "text/html,application/xhtml+xml"));
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/login?return=%2F%3Fx%3D1", page.Headers.Location?.OriginalString);

        var stream = await client.GetAsync("/stream");
        Assert.Equal(HttpStatusCode.Unauthorized, stream.StatusCode);
        Assert.Equal("Basic", stream.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Remote_ForwardingHeadersOutsideTheTunnel_AreIgnored()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();

        // Only the relay's tunnel may say where a request came from; a LAN client claiming a prefix, host or scheme
        // still gets a redirect to this appliance's own login, under no prefix.
        var request = Get("/?x=1", "text/html");
        request.Headers.Add("X-Forwarded-Prefix", "/evil");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "127.0.0.1");
        var page = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/login?return=%2F%3Fx%3D1", page.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("/cam", true)]
    [InlineData("/a/b-c_d.e~f", true)]
    [InlineData("/", false)]
    [InlineData("", false)]
    [InlineData("cam", false)]
    [InlineData("/cam/", false)]
    [InlineData("//evil.example", false)]
    [InlineData("/cam/../admin", false)]
    [InlineData("/./cam", false)]
    [InlineData("/cam\r\nSet-Cookie: x=1", false)]
    [InlineData("/javascript:alert(1)", false)]
    [InlineData("/cam%2F..", false)]
    [InlineData("/caméra", false)]
    public void TunnelPrefix_OnlyPlainPathSegments_AreAccepted(string prefix, bool safe) =>
        Assert.Equal(safe, Appliance.Tunnel.TunnelRequestMiddleware.IsSafePrefix(prefix));

    [Fact]
    public async Task Remote_Healthz_IsOpen()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();
        await Task.Delay(300);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }

    [Theory]
    [InlineData("family", Password, HttpStatusCode.OK)]
    [InlineData("family", "wrong", HttpStatusCode.Unauthorized)]
    [InlineData("someone", Password, HttpStatusCode.Unauthorized)]
    public async Task Remote_HttpBasic_ChecksUserAndPassword(string user, string password, HttpStatusCode expected)
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();
        var request = Get("/snapshot");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        Assert.Equal(expected, (await client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Remote_HttpBasicWithPasswordHash_LetsFfmpegWatch()
    {
        await using var server = await StartRemoteAsync($"--Web:PasswordHash={PasswordHasher.Hash(Password, 1000)}");
        var url = $"http://family:{Uri.EscapeDataString(Password)}@127.0.0.1:{server.BaseAddress.Port}/stream";
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("ffmpeg"),
            ["-hide_banner", "-loglevel", "error", "-i", url, "-frames:v", "5", "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.Stderr);
    }

    [Fact]
    public async Task Remote_LoginForm_SetsCookieThatOpensEverything()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        var cookies = new CookieContainer();
        using var client = server.CreateClient(cookies: cookies);

        var wrong = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = "nope", ["return"] = "/" }));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("Wrong password", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(cookies.GetCookies(server.BaseAddress));

        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/api/status" }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/api/status", login.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/snapshot")).StatusCode);
    }

    [Theory]
    [InlineData("application/json", "{\"password\":\"correct horse\",\"return\":\"/\"}")]
    [InlineData(null, "")]
    public async Task Login_BodyIsNotAForm_Answers400AndLogsNoError(string? contentType, string body)
    {
        var logs = new CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, "--Web:TrustLoopback=false", $"--Web:Password={Password}");
        using var client = server.CreateClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        var response = await client.PostAsync("/login", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("login form", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(SetCookies(response));
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Login_FormOverTheCap_Answers413WithoutCheckingAndTheRightPasswordStillWorks(bool chunked)
    {
        var logs = new CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, "--Web:TrustLoopback=false", $"--Web:Password={Password}");
        using var client = server.CreateClient();

        // The right password, padded past the cap: refused for its size, not read and checked.
        var body = Encoding.ASCII.GetBytes($"password={Uri.EscapeDataString(Password)}&pad=" + new string('a', WebAuthExtensions.MaxLoginFormBytes));
        using HttpContent content = chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        var response = await client.PostAsync("/login", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("too large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(SetCookies(response));
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));

        using var fresh = server.CreateClient();
        var login = await fresh.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/" }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.NotEmpty(SetCookies(login));
    }

    [Fact]
    public async Task LoginCookie_OverLanHttp_IsHttpOnlyLaxForTheWholeSiteButNotSecure()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();

        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/" }));

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = SessionCookie(login);
        Assert.True(cookie.HttpOnly);
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Lax, cookie.SameSite);
        Assert.Equal("/", cookie.Path.ToString());
        Assert.False(cookie.Secure); // plain http on the LAN: a Secure cookie would never be sent back
        Assert.Equal(TimeSpan.FromDays(30), cookie.MaxAge);
    }

    [Fact]
    public async Task Logout_AfterLoginAndAViewLink_BothForgottenAndThePageNeedsLoginAgain()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        var cookies = new CookieContainer();
        using var client = server.CreateClient(cookies: cookies);
        var link = server.GetRequiredService<LinkSigner>().Sign("/", TimeSpan.FromMinutes(30));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(link)).StatusCode); // remembers the link in a cookie
        await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/" }));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);

        var logout = await client.PostAsync("/logout", null);

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Empty(cookies.GetCookies(server.BaseAddress));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/status")).StatusCode);
    }

    [Fact]
    public async Task LoginSession_PasswordChanged_EndsButSurvivesARestartWithTheSamePassword()
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        string cookie;
        await using (var first = await StartRemoteAsync($"--Web:Password={Password}", $"--State:Directory={state}"))
        {
            var login = await first.CreateClient().PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/" }));
            var session = SessionCookie(login);
            cookie = $"{session.Name}={session.Value}";
        }

        async Task<HttpStatusCode> StatusWithCookieAsync(params string[] settings)
        {
            await using var server = await StartRemoteAsync([.. settings, $"--State:Directory={state}"]);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/status");
            request.Headers.Add("Cookie", cookie);
            return (await server.CreateClient().SendAsync(request)).StatusCode;
        }

        // Restarted with the same password: still logged in. With a new one (a lost phone): logged out.
        Assert.Equal(HttpStatusCode.OK, await StatusWithCookieAsync($"--Web:Password={Password}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync("--Web:Password=a new household password"));
    }

    [Fact]
    public async Task LoginCookie_ThroughHttpsTunnelUnderPrefix_IsSecureHttpOnlyLaxAndScopedToThePrefix()
    {
        await using var server = await ApplianceServer.StartAsync(SimulatedTunnel.Install, $"--Web:Password={Password}");
        using var client = server.CreateClient();
        var request = SimulatedTunnel.Request(HttpMethod.Post, "/login", "203.0.113.7", proto: "https", prefix: "/home");
        request.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/home/" });

        var login = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/home/", login.Headers.Location?.OriginalString);
        var cookie = SessionCookie(login);
        Assert.True(cookie.Secure);
        Assert.True(cookie.HttpOnly);
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Lax, cookie.SameSite);
        Assert.Equal("/home", cookie.Path.ToString());
    }

    private static SetCookie SessionCookie(HttpResponseMessage response) =>
        Assert.Single(
            SetCookies(response).Select(v => SetCookie.Parse(v)), c => c.Name == SessionAuthenticationHandler.CookieName);

    private static IEnumerable<string> SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example")]
    public async Task Login_ForeignReturnAddress_GoesHomeInstead(string target)
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();
        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = target }));
        Assert.Equal("/", login.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Remote_SignedLink_OpensViewingButNotAdminEndpoints()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        var link = server.GetRequiredService<LinkSigner>().Sign("/snapshot", TimeSpan.FromMinutes(30));
        var cookies = new CookieContainer();
        using var client = server.CreateClient(cookies: cookies);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(link)).StatusCode);
        // The link is remembered in a cookie for the page's own requests.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);
        // A view link is not the password: minting links needs a login.
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/links?path=/stream", null)).StatusCode);
    }

    [Fact]
    public async Task Links_MintedByAdmin_WorkForRemoteViewer()
    {
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var local = server.CreateClient();
        // TrustLoopback=false makes this client remote too: without credentials minting is refused.
        Assert.Equal(HttpStatusCode.Unauthorized, (await local.PostAsync("/api/links?path=/snapshot&minutes=5", null)).StatusCode);
        var response = await local.SendAsync(WithBasic(new HttpRequestMessage(HttpMethod.Post, "/api/links?path=/snapshot&minutes=5")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var link = (string)System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["link"]!;
        Assert.StartsWith("/snapshot?t=", link, StringComparison.Ordinal);

        using var viewer = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(link)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await local.SendAsync(WithBasic(new HttpRequestMessage(HttpMethod.Post, "/api/links?path=//evil"))) ).StatusCode);
    }

    private static HttpRequestMessage WithBasic(HttpRequestMessage request)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"family:{Password}")));
        return request;
    }

    [Fact]
    public async Task Remote_TamperedOrExpiredLink_IsRefused()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var tokens = new SignedTokens(new byte[32], time);
        var token = tokens.Create(SignedTokens.LinkKind, "view", TimeSpan.FromMinutes(30));

        Assert.Equal("view", tokens.Validate(token, SignedTokens.LinkKind));
        Assert.Null(tokens.Validate(token, SignedTokens.SessionKind)); // a link is not a session
        Assert.Null(tokens.Validate(token[..^2] + (token[^2] == 'A' ? "BB" : "AA"), SignedTokens.LinkKind));
        Assert.Null(tokens.Validate(token.Replace("l.", "s.", StringComparison.Ordinal), SignedTokens.SessionKind));
        Assert.Null(new SignedTokens(Enumerable.Repeat((byte)1, 32).ToArray(), time).Validate(token, SignedTokens.LinkKind));
        time.Advance(TimeSpan.FromMinutes(31));
        Assert.Null(tokens.Validate(token, SignedTokens.LinkKind));

        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        using var client = server.CreateClient();
        var forged = $"/snapshot?t={Uri.EscapeDataString(token)}"; // signed with another key
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(forged)).StatusCode);
    }

    /// <summary>The appliance with a password, its tokens on <paramref name="clock"/>, reached through a simulated tunnel under /home.</summary>
    private static Task<ApplianceServer> StartWithTokenClockAsync(FakeTimeProvider clock) =>
        ApplianceServer.StartAsync(
            builder =>
            {
                SimulatedTunnel.Install(builder);
                builder.Services.AddSingleton(sp => new SignedTokens(sp.GetRequiredService<Appliance.Hosting.StateDirectory>(), clock));
            },
            $"--Web:Password={Password}");

    private static HttpRequestMessage Visitor(string path, string? accept = null)
    {
        var request = SimulatedTunnel.Request(HttpMethod.Get, path, "203.0.113.7");
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return request;
    }

    /// <summary>The token of a link <see cref="LinkSigner"/> minted, with its expiry moved a day on (the signature no longer fits).</summary>
    private static string Tampered(string link)
    {
        var token = Uri.UnescapeDataString(link[(link.IndexOf("t=", StringComparison.Ordinal) + 2)..]);
        var parts = token.Split('.');
        parts[1] = (long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) + 86400).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join('.', parts);
    }

    [Fact]
    public async Task Stream_OpenedWithViewLink_EndsWhenTheLinkExpires_LoginStreamGoesOn()
    {
        // VLC or ffplay given a 直播 link keeps the stream open; the page stops by itself, they would not.
        await using var server = await StartRemoteAsync($"--Web:Password={Password}");
        var link = server.GetRequiredService<LinkSigner>().Sign("/stream", TimeSpan.FromSeconds(3));
        using var client = server.CreateClient();
        using var loginRequest = Get("/stream");
        loginRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"family:{Password}")));
        using var login = await client.SendAsync(loginRequest, HttpCompletionOption.ResponseHeadersRead);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var viewer = await client.GetAsync(link, HttpCompletionOption.ResponseHeadersRead);

        await BodyReading.AssertLinkStreamEndsLoginStreamGoesOnAsync(viewer, login, watch);
    }

    [Fact]
    public async Task SignedLink_ExpiredOnTheInjectedClock_BrowserGetsPageSayingSendLive()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await StartWithTokenClockAsync(clock);
        var link = server.GetRequiredService<LinkSigner>().Sign("/?fps=5", TimeSpan.FromMinutes(30));
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Visitor(link, "text/html"))).StatusCode);

        clock.Advance(TimeSpan.FromMinutes(31));
        var response = await client.SendAsync(Visitor(link, "text/html,application/xhtml+xml"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("expired", response.Headers.GetValues(WebRefusals.LinkProblemHeader).Single());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme); // Basic would pop up a password prompt over the page
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("链接已过期", page, StringComparison.Ordinal);
        Assert.Contains("This view link has expired", page, StringComparison.Ordinal);
        Assert.Contains("直播", page, StringComparison.Ordinal);
        Assert.Contains("“live”", page, StringComparison.Ordinal);
        // The login form, under the relay's prefix, returning to the same page without the dead link.
        Assert.Contains("href=\"/home/login?return=%2Fhome%2F%3Ffps%3D5\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignedLink_ExpiredOnTheInjectedClock_SnapshotGets401SayingLinkExpired()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await StartWithTokenClockAsync(clock);
        var link = server.GetRequiredService<LinkSigner>().Sign("/snapshot", TimeSpan.FromMinutes(30));
        using var client = server.CreateClient();
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Visitor(link))).StatusCode);

        clock.Advance(TimeSpan.FromMinutes(1));
        var response = await client.SendAsync(Visitor(link));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("expired", response.Headers.GetValues(WebRefusals.LinkProblemHeader).Single());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("This view link has expired", text, StringComparison.Ordinal);
        Assert.Contains("直播/live", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignedLink_Tampered_PageAndSnapshotSayLinkNotValid()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await StartWithTokenClockAsync(clock);
        var signer = server.GetRequiredService<LinkSigner>();
        var pageToken = Uri.EscapeDataString(Tampered(signer.Sign("/", TimeSpan.FromMinutes(30))));
        var snapshotToken = Uri.EscapeDataString(Tampered(signer.Sign("/snapshot", TimeSpan.FromMinutes(30))));
        using var client = server.CreateClient();

        var page = await client.SendAsync(Visitor($"/?t={pageToken}", "text/html"));
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Equal("invalid", page.Headers.GetValues(WebRefusals.LinkProblemHeader).Single());
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("链接无效", html, StringComparison.Ordinal);
        Assert.Contains("This view link is not valid", html, StringComparison.Ordinal);
        Assert.Contains("直播", html, StringComparison.Ordinal);
        Assert.DoesNotContain("expired", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("href=\"/home/login?return=%2Fhome%2F\"", html, StringComparison.Ordinal);

        var snapshot = await client.SendAsync(Visitor($"/snapshot?t={snapshotToken}"));
        Assert.Equal(HttpStatusCode.Unauthorized, snapshot.StatusCode);
        Assert.Equal("invalid", snapshot.Headers.GetValues(WebRefusals.LinkProblemHeader).Single());
        Assert.Contains("This view link is not valid", await snapshot.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_ViewerAddresses_HiddenFromLinkHoldersShownToLoggedInAndLoopbackAdmins()
    {
        await using var server = await ApplianceServer.StartAsync(SimulatedTunnel.Install, $"--Web:Password={Password}");
        using var client = server.CreateClient();
        using var watching = await client.SendAsync(
            WithBasic(SimulatedTunnel.Request(HttpMethod.Get, "/stream", "198.51.100.9")), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, watching.StatusCode);

        // A link holder (the link may have been forwarded to anyone): counts, fps and drops, no addresses.
        var link = server.GetRequiredService<LinkSigner>().Sign("/api/status", TimeSpan.FromMinutes(30));
        var asViewer = await client.SendAsync(SimulatedTunnel.Request(HttpMethod.Get, link, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, asViewer.StatusCode);
        var text = await asViewer.Content.ReadAsStringAsync();
        var status = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        Assert.Equal(1, (int)status["viewers"]!);
        var seen = Assert.Single(status["viewerDetails"]!.AsArray())!.AsObject();
        foreach (var kept in new[] { "id", "seconds", "framesSent", "framesDropped", "fps", "fpsCap" })
        {
            Assert.True(seen.ContainsKey(kept), kept);
        }

        Assert.False(seen.ContainsKey("remote"), seen.ToJsonString());
        Assert.DoesNotContain("198.51.100.9", text, StringComparison.Ordinal);

        // Admins: logged in through the tunnel, and on the Pi itself.
        var login = SimulatedTunnel.Request(HttpMethod.Post, "/login", "203.0.113.7");
        login.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = "/home/" });
        var cookie = SessionCookie(await client.SendAsync(login));
        var loggedIn = SimulatedTunnel.Request(HttpMethod.Get, "/api/status", "203.0.113.7");
        loggedIn.Headers.Add("Cookie", $"{cookie.Name}={cookie.Value}");
        foreach (var request in new[] { loggedIn, new HttpRequestMessage(HttpMethod.Get, "/api/status") })
        {
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var viewer = Assert.Single(System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["viewerDetails"]!.AsArray())!;
            Assert.Equal("198.51.100.9", (string?)viewer["remote"]);
        }
    }

    [Fact]
    public async Task Gpio_WhoSwitched_LinkHoldersSeeWhoButNotFromWhichAddress()
    {
        await using var server = await ApplianceServer.StartAsync(SimulatedTunnel.Install, $"--Web:Password={Password}", "--Gpio:Pins:light:Line=5");
        using var client = server.CreateClient();
        var switched = await client.SendAsync(WithBasic(SimulatedTunnel.Request(HttpMethod.Post, "/api/gpio/light?action=on", "198.51.100.9")));
        Assert.Equal(HttpStatusCode.OK, switched.StatusCode);

        // A link holder: who switched it ("family"), not from where, in /api/gpio and in /api/status.
        var signer = server.GetRequiredService<LinkSigner>();
        foreach (var path in new[] { "/api/gpio", "/api/status" })
        {
            var text = await (await client.SendAsync(SimulatedTunnel.Request(HttpMethod.Get, signer.Sign(path, TimeSpan.FromMinutes(30)), "203.0.113.7"))).Content.ReadAsStringAsync();
            var document = System.Text.Json.Nodes.JsonNode.Parse(text)!;
            var pins = (path == "/api/gpio" ? document : document["gpio"]!)["pins"]!.AsArray();
            Assert.Equal("family", (string?)pins.Single()!["changedBy"]);
            Assert.DoesNotContain("198.51.100.9", text, StringComparison.Ordinal);
        }

        // An admin on the Pi itself sees the address too.
        var admin = await client.GetStringAsync(new Uri("/api/gpio", UriKind.Relative));
        Assert.Contains("198.51.100.9", admin, StringComparison.Ordinal);
    }

    [Fact]
    public void PasswordHasher_RoundTripsAndRejectsOthers()
    {
        var hash = PasswordHasher.Hash("secret", 1000);
        Assert.True(PasswordHasher.Verify("secret", hash));
        Assert.False(PasswordHasher.Verify("Secret", hash));
        Assert.False(PasswordHasher.Verify("secret", "plain-text"));
        Assert.NotEqual(hash, PasswordHasher.Hash("secret", 1000)); // salted
    }
}
