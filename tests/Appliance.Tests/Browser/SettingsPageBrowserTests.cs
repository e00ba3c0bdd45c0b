using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Browser;

/// <summary>The admin's settings page in Debian's headless Chromium (tests/browser/settings-page.mjs), as a LAN visitor.</summary>
[Collection(TimingSensitive.Name)]
public sealed class SettingsPageBrowserTests
{
    [Fact]
    public async Task SettingsPage_InChromium_SavesCamera_RefusesBadValue_TestsWeCom_PasswordChangeEndsTheLogin()
    {
        const string password = "the old household password";
        var state = Directory.CreateTempSubdirectory("appliance-settings-").FullName;
        await File.WriteAllTextAsync(Path.Combine(state, "browser-settings.json"),
            new JsonObject { ["Web"] = new JsonObject { ["PasswordHash"] = PasswordHasher.Hash(password) } }.ToJsonString());
        await using var wecom = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(
            "--Web:TrustLoopback=false", $"--State:Directory={state}", $"--WeCom:ApiBaseUrl={wecom.BaseAddress}", "--WeCom:Admins:0=dad");

        var browserDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "browser"));
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")),
            "playwright-core is not installed in tests/browser; run tests/setup.sh (the README's test command does).");
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("node"),
            [Path.Combine(browserDir, "settings-page.mjs"), server.BaseAddress.ToString(), password, "the new household password",
                FakeWeComServer.CorpId, FakeWeComServer.Secret],
            TimeSpan.FromSeconds(120), null, browserDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var verdict = JsonNode.Parse(result.Stdout.Trim().Split('\n')[^1])!;

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        Assert.True((bool)verdict["askedToLogIn"]!);
        Assert.Equal("Settings", (string?)verdict["title"]);
        Assert.False((bool)verdict["secretShown"]!);
        Assert.True((bool?)verdict["linkedFromLivePage"] == true, "the live page has no settings link for the admin");
        Assert.Contains("at 12 fps, quality 65", (string?)verdict["cameraStatus"], StringComparison.Ordinal);
        Assert.Contains("next starts", (string?)verdict["cameraStatus"], StringComparison.Ordinal);
        Assert.Equal(400, (int)verdict["badStatus"]!);
        Assert.Contains("must be even", (string?)verdict["badAlert"], StringComparison.Ordinal);
        Assert.Contains("the test message went to dad", (string?)verdict["wecomStatus"], StringComparison.Ordinal);
        Assert.False((bool)verdict["secretShownAfterTest"]!);
        Assert.Equal("/login?return=%2Fsettings", (string?)verdict["afterPasswordChange"]);
        Assert.Equal("/login", (string?)verdict["settingsAfterChange"]);
        Assert.Single(wecom.CallsTo("message/send"));
    }
}
