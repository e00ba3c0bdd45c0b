using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Browser;

/// <summary>The first-run setup page in Debian's headless Chromium (tests/browser/setup-flow.mjs), as a LAN visitor.</summary>
[Collection(TimingSensitive.Name)]
public sealed partial class SetupPageTests
{
    [Fact]
    public async Task SetupFlow_InChromium_WrongCodeRefused_RightCodeLogsInToTheLivePage_ThenSetupIsClosed()
    {
        var logs = new CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, "--Web:TrustLoopback=false");
        var code = CodePattern().Match(Assert.Single(logs.Lines, l => CodePattern().IsMatch(l))).Groups[1].Value;
        var wrong = code[0] == 'a' ? "bbbb-bbbb" : "aaaa-aaaa";

        var browserDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "browser"));
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")),
            "playwright-core is not installed in tests/browser; run tests/setup.sh (the README's test command does).");
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("node"),
            [Path.Combine(browserDir, "setup-flow.mjs"), server.BaseAddress.ToString(), code, wrong, "a long household password"],
            TimeSpan.FromSeconds(90), null, browserDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var verdict = JsonNode.Parse(result.Stdout.Trim().Split('\n')[^1])!;

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        Assert.Equal(403, (int)verdict["firstStatus"]!);
        Assert.Equal("This appliance has no password yet", (string?)verdict["firstHeading"]);
        Assert.True((bool)verdict["asksForCode"]!);
        Assert.Equal(0, (int)verdict["shortPasswordPosted"]!);
        Assert.NotEqual("", (string?)verdict["shortPasswordValidation"]);
        Assert.Equal(401, (int)verdict["wrongCodeStatus"]!);
        Assert.StartsWith("Wrong setup code", (string?)verdict["wrongCodeAlert"], StringComparison.Ordinal);
        Assert.Equal("/", (string?)verdict["landedOn"]);
        Assert.Equal("Camera", (string?)verdict["landedTitle"]);
        Assert.Contains(verdict["cookies"]!.AsArray(), c => (string?)c!["name"] == "appliance_session" && (bool)c["httpOnly"]!);
        Assert.Equal(403, (int)verdict["setupAgainStatus"]!);
        Assert.Equal("The household password is already set", (string?)verdict["setupAgainHeading"]);
        Assert.True(server.GetRequiredService<Appliance.Auth.WebAuthOptions>().HasPassword);
    }

    [GeneratedRegex("setup code ([a-z0-9]{4}-[a-z0-9]{4})")]
    private static partial Regex CodePattern();
}
