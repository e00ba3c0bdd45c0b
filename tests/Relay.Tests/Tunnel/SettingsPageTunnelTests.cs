extern alias ApplianceApp;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using ApplianceProgram = ApplianceApp::Appliance.Program;

namespace Relay.Tests.Tunnel;

/// <summary>
/// The appliance's settings page (/settings/tunnel) against the real relay: Test connects and logs in with the form's
/// values. The appliance runs without a tunnel; the test's requests come from the Pi itself (a trusted loopback admin).
/// </summary>
public sealed class SettingsPageTunnelTests
{
    private static async Task<(WebApplication App, HttpClient Client)> StartApplianceAsync()
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        var app = ApplianceProgram.BuildApp(
        [
            "--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
            "--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=30",
        ]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) });
    }

    private static async Task<(HttpStatusCode Status, string Page)> PostAsync(HttpClient client, string relayUrl, string name, string secret, string action)
    {
        var response = await client.PostAsync("/settings/tunnel", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["relayUrl"] = relayUrl,
            ["name"] = name,
            ["secret"] = secret,
            ["action"] = action,
        }));
        return (response.StatusCode, WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task TunnelTest_RightAndWrongSecret_UnreachableRelay_BadUrl_SaysWhichWithoutShowingTheSecret()
    {
        await using var relay = await RelayServer.StartAsync();
        var (app, client) = await StartApplianceAsync();
        await using var _ = app;
        using var __ = client;

        var good = await PostAsync(client, relay.TunnelUrl.ToString(), RelayServer.Name, RelayServer.Secret, "test");
        Assert.Equal(HttpStatusCode.OK, good.Status);
        Assert.Contains($"Connected to {relay.TunnelUrl} and logged in as '{RelayServer.Name}'.", good.Page, StringComparison.Ordinal);
        Assert.DoesNotContain(RelayServer.Secret, good.Page, StringComparison.Ordinal);

        var wrong = await PostAsync(client, relay.TunnelUrl.ToString(), RelayServer.Name, "not-the-secret-0123456789", "test");
        Assert.Contains("The tunnel test failed: The relay refused the login of 'cam' (authentication failed)", wrong.Page, StringComparison.Ordinal);
        Assert.Contains("role=\"alert\"", wrong.Page, StringComparison.Ordinal);

        var unreachable = await PostAsync(client, "ws://127.0.0.1:9/", RelayServer.Name, RelayServer.Secret, "test");
        Assert.Contains("The tunnel test failed:", unreachable.Page, StringComparison.Ordinal);

        var badUrl = await PostAsync(client, "http://relay.example.org/", RelayServer.Name, RelayServer.Secret, "save");
        Assert.Equal(HttpStatusCode.BadRequest, badUrl.Status);
        Assert.Contains("Tunnel:RelayUrl must be a wss:// URL", badUrl.Page, StringComparison.Ordinal);
    }
}
