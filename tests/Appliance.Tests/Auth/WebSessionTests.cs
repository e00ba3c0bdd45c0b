using System.Net;
using Appliance.Auth;
using Appliance.Tests.Infrastructure;
using SetCookie = Microsoft.Net.Http.Headers.SetCookieHeaderValue;

namespace Appliance.Tests.Auth;

/// <summary>
/// Login sessions live on the appliance (<see cref="SessionStore"/>): logout, "log out everywhere" and a new password
/// end them, whatever a browser keeps. Remote clients as in <see cref="WebAuthTests"/> (Web:TrustLoopback=false).
/// </summary>
public sealed class WebSessionTests
{
    private const string Password = "correct horse";

    private static Task<ApplianceServer> StartAsync() =>
        ApplianceServer.StartAsync("--Web:TrustLoopback=false", $"--Web:Password={Password}", "--Gpio:Pins:door:Line=5");

    private static async Task<string> LoginAsync(HttpClient client, string returnPath = "/")
    {
        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = returnPath }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = login.Headers.GetValues("Set-Cookie").Select(v => SetCookie.Parse(v)).Single(c => c.Name == SessionAuthenticationHandler.CookieName);
        return $"{cookie.Name}={cookie.Value}";
    }

    private static HttpRequestMessage WithCookie(HttpMethod method, string path, string cookie)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Cookie", cookie);
        return request;
    }

    [Fact]
    public async Task Logout_OldCookieKeptByTheBrowser_NoLongerSwitchesAnOutput()
    {
        // Before: the cookie was a signed token valid for 30 days whatever /logout did.
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(WithCookie(HttpMethod.Post, "/api/gpio/door?action=on", cookie))).StatusCode);

        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(WithCookie(HttpMethod.Post, "/logout", cookie))).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(WithCookie(HttpMethod.Post, "/api/gpio/door?action=off", cookie))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(WithCookie(HttpMethod.Get, "/api/status", cookie))).StatusCode);
    }

    [Fact]
    public async Task TwoLoginsInTheSameSecond_GetDifferentSessions_LoggingOneOutKeepsTheOther()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var first = await LoginAsync(client);
        var second = await LoginAsync(client);
        Assert.NotEqual(first, second);
        Assert.True(first.Length - SessionAuthenticationHandler.CookieName.Length - 1 >= 43); // 256 random bits

        await client.SendAsync(WithCookie(HttpMethod.Post, "/logout", first));

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(WithCookie(HttpMethod.Get, "/api/status", first))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(WithCookie(HttpMethod.Get, "/api/status", second))).StatusCode);
    }

    [Fact]
    public async Task LogoutEverywhere_EndsEveryLogin_AndNeedsOne()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var phone = await LoginAsync(client);
        var laptop = await LoginAsync(client);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/logout/everywhere", null)).StatusCode);

        var everywhere = await client.SendAsync(WithCookie(HttpMethod.Post, "/logout/everywhere", laptop));

        Assert.Equal(HttpStatusCode.OK, everywhere.StatusCode);
        Assert.Contains("2 logins ended", await everywhere.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(WithCookie(HttpMethod.Get, "/api/status", phone))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(WithCookie(HttpMethod.Get, "/api/status", laptop))).StatusCode);
        Assert.Equal(0, server.GetRequiredService<SessionStore>().Count);
    }

    [Fact]
    public async Task SessionFile_HoldsNoCookieValueAndIsPrivate()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var cookie = await LoginAsync(client);
        var file = Path.Combine(server.StateDirectory, "web-sessions.json");
        Assert.DoesNotContain(cookie.Split('=', 2)[1], await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Theory]
    [InlineData("/api/status\n", "/api/status%0A")]
    [InlineData("/api/status\r\nSet-Cookie: x=1", "/api/status%0D%0ASet-Cookie:%20x=1")]
    [InlineData("/\u3000", "/%E3%80%80")]
    [InlineData("/\u3000/evil.example", "/%E3%80%80/evil.example")]
    public async Task Login_ReturnPathWithControlOrWideSpace_RedirectsEscapedAndKeepsTheLogin(string target, string location)
    {
        // Before: 500, and the login was lost.
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Password, ["return"] = target }));

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(location, login.Headers.Location?.OriginalString);
        Assert.Single(login.Headers.GetValues("Set-Cookie"), v => v.StartsWith(SessionAuthenticationHandler.CookieName + "=", StringComparison.Ordinal));

        var page = await client.GetAsync($"/login?return={Uri.EscapeDataString(target)}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }
}
