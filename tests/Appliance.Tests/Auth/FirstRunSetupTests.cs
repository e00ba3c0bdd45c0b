using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Appliance.Auth;
using Appliance.Doctor;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.Extensions.DependencyInjection;
using SetCookie = Microsoft.Net.Http.Headers.SetCookieHeaderValue;

namespace Appliance.Tests.Auth;

/// <summary>
/// The first run in the browser (<see cref="SetupEndpoints"/>): with no password, /setup takes the one-time setup code
/// from the log and the household password. Remote visitors as in <see cref="WebAuthTests"/> (Web:TrustLoopback=false).
/// </summary>
public sealed partial class FirstRunSetupTests
{
    private const string Chosen = "a long household password";

    private static async Task<(ApplianceServer Server, CapturingLoggerProvider Logs)> StartAsync(string? state = null, params string[] settings)
    {
        var logs = new CapturingLoggerProvider();
        string[] args = state is null ? settings : [$"--State:Directory={state}", .. settings];
        return (await ApplianceServer.StartAsync(logs.Install, args), logs);
    }

    private static Task<(ApplianceServer Server, CapturingLoggerProvider Logs)> StartRemoteAsync(string? state = null, params string[] settings) =>
        StartAsync(state, ["--Web:TrustLoopback=false", .. settings]);

    private static string LoggedCode(CapturingLoggerProvider logs)
    {
        var line = Assert.Single(logs.Lines, l => CodePattern().IsMatch(l));
        return CodePattern().Match(line).Groups[1].Value;
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    private static string SessionCookie(HttpResponseMessage response)
    {
        var cookie = response.Headers.GetValues("Set-Cookie").Select(v => SetCookie.Parse(v)).Single(c => c.Name == SessionAuthenticationHandler.CookieName);
        return $"{cookie.Name}={cookie.Value}";
    }

    private static async Task<HttpStatusCode> LoginAsync(HttpClient client, string password) =>
        (await client.PostAsync("/login", Form(("password", password)))).StatusCode;

    [Fact]
    public async Task Start_NoPassword_LogsSetupCode_KeptInA0600FileTheDoctorShows()
    {
        var (server, logs) = await StartRemoteAsync();
        await using var _ = server;

        var code = LoggedCode(logs);
        Assert.Matches("^[a-z2-9]{4}-[a-z2-9]{4}$", code);
        var file = Path.Combine(server.StateDirectory, SetupCode.FileName);
        Assert.Equal(code, (await File.ReadAllTextAsync(file)).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

        using var output = new StringWriter();
        await DoctorCommand.RunAsync([$"--State:Directory={server.StateDirectory}", "--Camera:Source=synthetic"], output, CancellationToken.None);
        Assert.Contains($"Household password: none yet", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"enter the setup code {code}", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setup_RemoteWithCodeAndPassword_LogsInStoresOnlyAHash_AndOutlivesARestart()
    {
        var state = Directory.CreateTempSubdirectory("appliance-setup-").FullName;
        string cookie;
        var (server, logs) = await StartRemoteAsync(state);
        await using (server)
        {
            using var client = server.CreateClient();
            var page = await client.GetStringAsync("/setup");
            Assert.Contains("name=\"code\"", page, StringComparison.Ordinal);

            var setup = await client.PostAsync("/setup", Form(("code", LoggedCode(logs).ToUpperInvariant()), ("password", Chosen), ("confirm", Chosen)));

            Assert.Equal(HttpStatusCode.Redirect, setup.StatusCode);
            Assert.Equal("/", setup.Headers.Location?.OriginalString);
            cookie = SessionCookie(setup);
            using var status = new HttpRequestMessage(HttpMethod.Get, "/api/status");
            status.Headers.Add("Cookie", cookie);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(status)).StatusCode);
            Assert.Equal(HttpStatusCode.Redirect, await LoginAsync(client, Chosen));
            Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(client, "not the password"));
            Assert.Contains(logs.Lines, l => l.Contains("household password was set on the setup page", StringComparison.Ordinal));
        }

        var stored = Path.Combine(state, "browser-settings.json");
        var text = await File.ReadAllTextAsync(stored);
        Assert.DoesNotContain(Chosen, text, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify(Chosen, JsonNode.Parse(text)!["Web"]!["PasswordHash"]!.GetValue<string>()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stored));
        Assert.False(File.Exists(Path.Combine(state, SetupCode.FileName)));

        // After a restart: the password is the browser layer's, and the login made at setup still stands.
        var (again, logsAgain) = await StartRemoteAsync(state);
        await using (again)
        {
            using var client = again.CreateClient();
            Assert.DoesNotContain(logsAgain.Lines, l => l.Contains("setup code", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.Redirect, await LoginAsync(client, Chosen));
            using var status = new HttpRequestMessage(HttpMethod.Get, "/api/status");
            status.Headers.Add("Cookie", cookie);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(status)).StatusCode);
        }
    }

    [Fact]
    public async Task Setup_AfterThePasswordIsSet_RefusesAndTheCodeIsDead()
    {
        var (server, logs) = await StartRemoteAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var code = LoggedCode(logs);
        Assert.Equal(HttpStatusCode.Redirect, (await client.PostAsync("/setup", Form(("code", code), ("password", Chosen)))).StatusCode);

        var again = await client.PostAsync("/setup", Form(("code", code), ("password", "someone else's password")));

        Assert.Equal(HttpStatusCode.Forbidden, again.StatusCode);
        Assert.Contains("already set", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/setup")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, await LoginAsync(client, Chosen));
        Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(client, "someone else's password"));
    }

    [Fact]
    public async Task Setup_PasswordInSettings_RefusesAndPrintsNoCode()
    {
        var (server, logs) = await StartRemoteAsync(null, "--Web:Password=set in secrets.json");
        await using var _ = server;
        using var client = server.CreateClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/setup")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/setup", Form(("code", "abcd-efgh"), ("password", Chosen)))).StatusCode);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("setup code", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(server.StateDirectory, SetupCode.FileName)));
    }

    [Fact]
    public async Task Setup_WrongCode_401_CountsAgainstTheGuessLimit_ThenEvenTheRightCodeWaits()
    {
        var (server, logs) = await StartRemoteAsync(null, "--Web:MaxLoginFailures=2");
        await using var _ = server;
        using var client = server.CreateClient();
        var code = LoggedCode(logs);
        var wrong = code[0] == 'a' ? "bbbb-bbbb" : "aaaa-aaaa";

        var first = await client.PostAsync("/setup", Form(("code", wrong), ("password", Chosen)));
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Contains("Wrong setup code", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/setup", Form(("code", ""), ("password", Chosen)))).StatusCode);

        var blocked = await client.PostAsync("/setup", Form(("code", code), ("password", Chosen)));

        Assert.Equal((HttpStatusCode)429, blocked.StatusCode);
        Assert.NotNull(blocked.Headers.RetryAfter);
        Assert.Contains("Too many wrong setup codes", await blocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(server.GetRequiredService<WebAuthOptions>().HasPassword);
        Assert.False(File.Exists(Path.Combine(server.StateDirectory, "browser-settings.json")));
    }

    [Theory]
    [InlineData("short", null, "must be 8 to 256 characters long (it has 5)")]
    [InlineData(Chosen, "a different one", "The two passwords differ")]
    public async Task Setup_BadPassword_400WithClearError_NothingStored_CodeStillWorks(string password, string? confirm, string error)
    {
        var (server, logs) = await StartRemoteAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        var code = LoggedCode(logs);
        var fields = new List<(string, string)> { ("code", code), ("password", password) };
        if (confirm is not null)
        {
            fields.Add(("confirm", confirm));
        }

        var refused = await client.PostAsync("/setup", Form([.. fields]));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains(error, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(server.GetRequiredService<WebAuthOptions>().HasPassword);
        Assert.Equal(HttpStatusCode.Redirect, (await client.PostAsync("/setup", Form(("code", code), ("password", Chosen)))).StatusCode);
    }

    [Fact]
    public async Task Setup_CrossSitePost_403_NothingStored()
    {
        var (server, logs) = await StartRemoteAsync();
        await using var _ = server;
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/setup") { Content = Form(("code", LoggedCode(logs)), ("password", Chosen)) };
        request.Headers.Add("Origin", "http://evil.example");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("another site", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(server.GetRequiredService<WebAuthOptions>().HasPassword);
    }

    [Fact]
    public async Task Setup_NotAForm_400SayingWhatItTakes()
    {
        var (server, _) = await StartRemoteAsync();
        await using var __ = server;
        using var client = server.CreateClient();

        var response = await client.PostAsync("/setup", new StringContent("""{"code":"x","password":"y"}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("fields code and password", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setup_FromTheApplianceItself_NeedsNoCode()
    {
        var (server, _) = await StartAsync();
        await using var __ = server;
        using var client = server.CreateClient();
        var page = await client.GetStringAsync("/setup");
        Assert.DoesNotContain("name=\"code\"", page, StringComparison.Ordinal);

        var setup = await client.PostAsync("/setup", Form(("password", Chosen)));

        Assert.Equal(HttpStatusCode.Redirect, setup.StatusCode);
        Assert.True(server.GetRequiredService<WebAuthOptions>().HasPassword);
    }

    [Fact]
    public async Task Settings_CommandLinePasswordOverridesTheBrowsers_DoctorNamesTheBrowserLayer()
    {
        var state = Directory.CreateTempSubdirectory("appliance-setup-").FullName;
        var (server, logs) = await StartRemoteAsync(state);
        await using (server)
        {
            using var client = server.CreateClient();
            Assert.Equal(HttpStatusCode.Redirect, (await client.PostAsync("/setup", Form(("code", LoggedCode(logs)), ("password", Chosen)))).StatusCode);
        }

        using (var output = new StringWriter())
        {
            await DoctorCommand.RunAsync([$"--State:Directory={state}", "--Camera:Source=synthetic"], output, CancellationToken.None);
            Assert.Contains($"from the browser's settings page ({Path.Combine(state, "browser-settings.json")}): Web:PasswordHash", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("✓ Household password: set", output.ToString(), StringComparison.Ordinal);
        }

        // run.sh --Web:Password=… still works for one run: the later layer's password stands, no "both set" error.
        var (overridden, _) = await StartRemoteAsync(state, "--Web:Password=for this run only");
        await using (overridden)
        {
            using var client = overridden.CreateClient();
            Assert.Equal(HttpStatusCode.Redirect, await LoginAsync(client, "for this run only"));
            Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(client, Chosen));
        }
    }

    [Theory]
    [InlineData(true, "sudo systemctl restart appliance", "journalctl -u appliance")]
    [InlineData(false, "./Appliance/run.sh --Web:Password=", "the terminal where it runs")]
    public async Task NoPasswordPage_PointsAtSetup_WithAdviceForHowItRuns(bool underSystemd, string advice, string whereTheLogIs)
    {
        await using var server = await ApplianceServer.StartAsync(
            b => b.Services.AddSingleton(new RunningAs(underSystemd)), "--Web:TrustLoopback=false");
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Accept.ParseAdd("text/html");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("href=\"setup\"", page, StringComparison.Ordinal);
        Assert.Contains(advice, page, StringComparison.Ordinal);
        Assert.Contains(whereTheLogIs, page, StringComparison.Ordinal);
        Assert.Contains(whereTheLogIs, await client.GetStringAsync("/setup"), StringComparison.Ordinal);
    }

    [GeneratedRegex("setup code ([a-z0-9]{4}-[a-z0-9]{4})")]
    private static partial Regex CodePattern();
}
