using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Camera;
using SetCookie = Microsoft.Net.Http.Headers.SetCookieHeaderValue;

namespace Appliance.Tests.Settings;

/// <summary>
/// The admin's settings page (/settings): the password and the camera, stored in the browser's settings layer.
/// Remote clients as in WebAuthTests (Web:TrustLoopback=false); the old password is put in the browser's layer first.
/// </summary>
public sealed class SettingsPageTests
{
    private const string OldPassword = "the old household password";
    private const string NewPassword = "the new household password";

    private static async Task<(ApplianceServer Server, string State)> StartAsync(string? state = null, params string[] settings)
    {
        if (state is null)
        {
            state = Directory.CreateTempSubdirectory("appliance-settings-").FullName;
            await File.WriteAllTextAsync(Path.Combine(state, "browser-settings.json"),
                new JsonObject { ["Web"] = new JsonObject { ["PasswordHash"] = PasswordHasher.Hash(OldPassword) } }.ToJsonString());
        }

        return (await ApplianceServer.StartAsync(["--Web:TrustLoopback=false", $"--State:Directory={state}", .. settings]), state);
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    private static async Task<string> LoginAsync(HttpClient client, string password)
    {
        var login = await client.PostAsync("/login", Form(("password", password)));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = login.Headers.GetValues("Set-Cookie").Select(v => SetCookie.Parse(v)).Single(c => c.Name == SessionAuthenticationHandler.CookieName);
        return $"{cookie.Name}={cookie.Value}";
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? cookie, HttpContent? content = null, string? origin = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return client.SendAsync(request);
    }

    private static AuthenticationHeaderValue Basic(string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"family:{password}")));

    [Fact]
    public async Task Settings_NotAnAdmin_Refused()
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var link = server.GetRequiredService<LinkSigner>().Sign("/", TimeSpan.FromMinutes(5));
        var t = link[(link.IndexOf("?t=", StringComparison.Ordinal) + 3)..];

        using var browser = new HttpRequestMessage(HttpMethod.Get, "/settings");
        browser.Headers.Accept.ParseAdd("text/html");
        var anonymous = await client.SendAsync(browser);
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
        Assert.StartsWith("/login", anonymous.Headers.Location?.OriginalString, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync($"/settings?t={t}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"/settings/camera?t={t}", Form(("fps", "5")))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"/settings/password?t={t}", Form(("password", NewPassword)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"/settings/wecom?t={t}", Form(("corpId", "x"), ("agentId", "1"), ("action", "test")))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"/settings/tunnel?t={t}", Form(("relayUrl", "ws://127.0.0.1:9/"), ("action", "test")))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/settings/tunnel", Form(("relayUrl", "ws://127.0.0.1:9/"), ("action", "test")))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/settings/password", Form(("password", NewPassword)))).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.PostAsync("/login", Form(("password", OldPassword)))).StatusCode);
    }

    [Fact]
    public async Task Settings_Page_ShowsValuesInEffect_NeverTheSecret()
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var page = await (await SendAsync(client, HttpMethod.Get, "/settings", cookie)).Content.ReadAsStringAsync();

        Assert.Contains("Password: set.", page, StringComparison.Ordinal);
        Assert.Contains("name=\"fps\" value=\"30\"", page, StringComparison.Ordinal);
        Assert.Contains("set by the command line", page, StringComparison.Ordinal); // the test server's Camera:Width
        Assert.Contains("next starts", page, StringComparison.Ordinal);
        Assert.DoesNotContain("pbkdf2", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChangePassword_EndsEveryLoginAndTheOldBasicPassword_NewOneWorksAlsoAfterRestart()
    {
        var (server, state) = await StartAsync();
        await using (server)
        {
            using var client = server.CreateClient();
            var phone = await LoginAsync(client, OldPassword);
            var laptop = await LoginAsync(client, OldPassword);
            using (var basicClient = server.CreateClient())
            {
                basicClient.DefaultRequestHeaders.Authorization = Basic(OldPassword);
                Assert.Equal(HttpStatusCode.OK, (await basicClient.GetAsync("/api/status")).StatusCode); // now in the Basic cache
            }

            var change = await SendAsync(client, HttpMethod.Post, "/settings/password", laptop, Form(("password", NewPassword), ("confirm", NewPassword)));

            Assert.Equal(HttpStatusCode.Redirect, change.StatusCode);
            Assert.Equal("/login?return=%2Fsettings", change.Headers.Location?.OriginalString);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(client, HttpMethod.Get, "/api/status", phone)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(client, HttpMethod.Get, "/api/status", laptop)).StatusCode);
            using (var basicClient = server.CreateClient())
            {
                basicClient.DefaultRequestHeaders.Authorization = Basic(OldPassword);
                Assert.Equal(HttpStatusCode.Unauthorized, (await basicClient.GetAsync("/api/status")).StatusCode);
            }

            Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/login", Form(("password", OldPassword)))).StatusCode);
            await LoginAsync(client, NewPassword);
        }

        Assert.DoesNotContain(NewPassword, await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")), StringComparison.Ordinal);
        var (again, _) = await StartAsync(state);
        await using (again)
        {
            using var client = again.CreateClient();
            await LoginAsync(client, NewPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/login", Form(("password", OldPassword)))).StatusCode);
        }
    }

    [Theory]
    [InlineData("short", "short", "must be 8 to 256 characters long")]
    [InlineData(NewPassword, "something else", "The two passwords differ")]
    public async Task ChangePassword_BadPassword_400_NothingChanges(string password, string confirm, string error)
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var refused = await SendAsync(client, HttpMethod.Post, "/settings/password", cookie, Form(("password", password), ("confirm", confirm)));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains(error, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/status", cookie)).StatusCode);
        await LoginAsync(client, OldPassword);
    }

    [Fact]
    public async Task ChangePassword_SetOnTheCommandLine_409SaysWhere()
    {
        var (server, _) = await StartAsync(null, $"--Web:Password={OldPassword}");
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var refused = await SendAsync(client, HttpMethod.Post, "/settings/password", cookie, Form(("password", NewPassword), ("confirm", NewPassword)));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("set by the command line", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/status", cookie)).StatusCode);
    }

    [Fact]
    public async Task Camera_Saved_SaysWhenItApplies_NamesOverrides_AndAppliesAtTheNextStart()
    {
        var (server, state) = await StartAsync();
        await using (server)
        {
            using var client = server.CreateClient();
            var cookie = await LoginAsync(client, OldPassword);

            var saved = await SendAsync(client, HttpMethod.Post, "/settings/camera", cookie,
                Form(("width", "640"), ("height", "480"), ("fps", "15"), ("quality", "70")));

            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
            var page = await saved.Content.ReadAsStringAsync();
            Assert.Contains("Saved: 640x480 at 15 fps, quality 70.", page, StringComparison.Ordinal);
            Assert.Contains("take effect when the appliance next starts", page, StringComparison.Ordinal);
            Assert.Contains("Camera:Width (set by the command line)", page, StringComparison.Ordinal);
            Assert.Equal(80, server.GetRequiredService<CameraOptions>().Quality); // in effect: unchanged until the restart
        }

        var stored = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")))!;
        Assert.Equal("70", (string?)stored["Camera"]!["Quality"]);
        Assert.NotNull(stored["Web"]!["PasswordHash"]); // the password is kept

        var (again, _) = await StartAsync(state);
        await using (again)
        {
            Assert.Equal(70, again.GetRequiredService<CameraOptions>().Quality);
            Assert.Equal(320, again.GetRequiredService<CameraOptions>().Width); // the command line still wins
        }
    }

    [Theory]
    [InlineData("width", "641", "must be even")]
    [InlineData("fps", "0", "Camera:Fps must be between 1 and 120 (got 0)")]
    [InlineData("quality", "high", "quality must be a whole number (got 'high')")]
    public async Task Camera_BadValue_400WithClearError_NothingStored(string field, string value, string error)
    {
        var (server, state) = await StartAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);
        var before = await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json"));

        var refused = await SendAsync(client, HttpMethod.Post, "/settings/camera", cookie, Form((field, value)));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains(WebUtility.HtmlEncode(error), await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")));
    }

    [Fact]
    public async Task Settings_CrossSitePost_403_NothingStored()
    {
        var (server, state) = await StartAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var camera = await SendAsync(client, HttpMethod.Post, "/settings/camera", cookie, Form(("fps", "5")), "http://evil.example");
        var password = await SendAsync(client, HttpMethod.Post, "/settings/password", cookie, Form(("password", NewPassword), ("confirm", NewPassword)), "http://evil.example");

        Assert.Equal(HttpStatusCode.Forbidden, camera.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, password.StatusCode);
        Assert.DoesNotContain("Camera", await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/status", cookie)).StatusCode);
    }

    [Fact]
    public async Task WeCom_Test_GoodCredentials_GetsTokenAndMessagesTheAdmins_SecretNeverShown()
    {
        await using var wecom = await FakeWeComServer.StartAsync();
        var (server, _) = await StartAsync(null, $"--WeCom:ApiBaseUrl={wecom.BaseAddress}", "--WeCom:Admins:0=dad", "--WeCom:Admins:1=mum");
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var tested = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
            Form(("corpId", FakeWeComServer.CorpId), ("agentId", "1000002"), ("secret", FakeWeComServer.Secret), ("action", "test")));

        var page = await tested.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, tested.StatusCode);
        Assert.Contains("gettoken succeeded and the test message went to dad, mum", page, StringComparison.Ordinal);
        var sent = FakeWeComServer.Json(Assert.Single(wecom.CallsTo("message/send")));
        Assert.Equal("dad|mum", sent.GetProperty("touser").GetString());
        Assert.Equal(1000002, sent.GetProperty("agentid").GetInt32());
        Assert.DoesNotContain(FakeWeComServer.Secret, page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_Test_UntrustedAddress_ShowsErrcode60020AndTheAddressToTrust()
    {
        await using var wecom = await FakeWeComServer.StartAsync();
        wecom.FailNext("gettoken", 60020);
        var (server, _) = await StartAsync(null, $"--WeCom:ApiBaseUrl={wecom.BaseAddress}", "--WeCom:Admins:0=dad");
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var tested = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
            Form(("corpId", FakeWeComServer.CorpId), ("agentId", "1000002"), ("secret", FakeWeComServer.Secret), ("action", "test")));

        var page = WebUtility.HtmlDecode(await tested.Content.ReadAsStringAsync());
        Assert.Contains("role=\"alert\"", page, StringComparison.Ordinal);
        Assert.Contains("gettoken answered 60020: not allow to access from your ip", page, StringComparison.Ordinal);
        Assert.Contains("Add 127.0.0.1 to the app's trusted IPs (企业可信IP)", page, StringComparison.Ordinal);
        Assert.Empty(wecom.CallsTo("message/send"));
    }

    [Fact]
    public async Task WeCom_Test_WrongSecret_ShowsWeComsError()
    {
        await using var wecom = await FakeWeComServer.StartAsync();
        var (server, _) = await StartAsync(null, $"--WeCom:ApiBaseUrl={wecom.BaseAddress}");
        await using var _ = server;
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client, OldPassword);

        var tested = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
            Form(("corpId", FakeWeComServer.CorpId), ("agentId", "1000002"), ("secret", "not-the-secret"), ("action", "test")));

        var page = WebUtility.HtmlDecode(await tested.Content.ReadAsStringAsync());
        Assert.Contains("gettoken answered 40001: invalid credential", page, StringComparison.Ordinal);
        Assert.Contains("The Secret is wrong", page, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeCom_Save_StoresInTheLayer_BlankSecretKeepsIt_PageSaysOnlySet_BadAgentId400()
    {
        var (server, state) = await StartAsync();
        await using (server)
        {
            using var client = server.CreateClient();
            var cookie = await LoginAsync(client, OldPassword);

            // Without the callback's Token and key the appliance could not start: nothing is saved.
            var incomplete = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
                Form(("corpId", "ww-household"), ("agentId", "1000002"), ("secret", "the-app-secret"), ("action", "save")));
            Assert.Equal(HttpStatusCode.BadRequest, incomplete.StatusCode);
            Assert.Contains("Not saved: WeCom:Token is required", await incomplete.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain("WeCom", await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")), StringComparison.Ordinal);

            var saved = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
                Form(("corpId", "ww-household"), ("agentId", "1000002"), ("secret", "the-app-secret"), ("token", WeComCallbackClient.Token),
                    ("encodingAesKey", WeComCallbackClient.AesKey), ("action", "save")));
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
            Assert.Contains("next starts", await saved.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            var again = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
                Form(("corpId", "ww-household2"), ("agentId", "1000003"), ("secret", ""), ("action", "save")));
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);

            var bad = await SendAsync(client, HttpMethod.Post, "/settings/wecom", cookie,
                Form(("corpId", "ww-household3"), ("agentId", "seven"), ("secret", ""), ("action", "save")));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("AgentId must be", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var stored = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(state, "browser-settings.json")))!["WeCom"]!;
        Assert.Equal("ww-household2", (string?)stored["CorpId"]);
        Assert.Equal("1000003", (string?)stored["AgentId"]);
        Assert.Equal("the-app-secret", (string?)stored["Secret"]);

        var (restarted, _) = await StartAsync(state, "--WeCom:ApiBaseUrl=http://127.0.0.1:9/"); // no call leaves the machine
        await using (restarted)
        {
            using var client = restarted.CreateClient();
            var cookie = await LoginAsync(client, OldPassword);
            var page = await (await SendAsync(client, HttpMethod.Get, "/settings", cookie)).Content.ReadAsStringAsync();
            Assert.Contains("value=\"ww-household2\"", page, StringComparison.Ordinal);
            Assert.Contains("Secret: set; Token: set; EncodingAESKey: set.", page, StringComparison.Ordinal);
            Assert.DoesNotContain("the-app-secret", page, StringComparison.Ordinal);
            Assert.Equal("the-app-secret", restarted.GetRequiredService<Appliance.WeCom.WeComOptions>().Secret);
            Assert.DoesNotContain(WeComCallbackClient.AesKey, page, StringComparison.Ordinal);
        }
    }
}
