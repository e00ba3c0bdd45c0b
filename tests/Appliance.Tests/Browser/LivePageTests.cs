using System.Text.Json.Nodes;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Browser;

/// <summary>Debian's headless Chromium, driven by playwright-core (tests/browser/live-page.mjs), against the real page.</summary>
[Collection(TimingSensitive.Name)]
public sealed class LivePageTests
{
    private static async Task<JsonNode> RunPageScriptAsync(Uri url, string? blockStream = null)
    {
        var browserDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "browser"));
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")),
            "playwright-core is not installed in tests/browser; run tests/setup.sh (the README's test command does).");
        var output = Directory.CreateTempSubdirectory("live-page-").FullName;
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("node"), [Path.Combine(browserDir, "live-page.mjs"), url.ToString(), output],
            TimeSpan.FromSeconds(90), blockStream is null ? null : new Dictionary<string, string> { ["BLOCK_STREAM"] = blockStream }, browserDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return JsonNode.Parse(result.Stdout.Trim().Split('\n')[^1])!;
    }

    [Fact]
    public async Task Page_InChromium_ShowsLiveNonBlankPictureThatChanges_AndClosesStreamWhenHidden()
    {
        await using var server = await ApplianceServer.StartAsync("--Camera:Width=640", "--Camera:Height=360");
        var verdict = await RunPageScriptAsync(server.BaseAddress);

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        foreach (var shot in new[] { verdict["first"]!, verdict["second"]! })
        {
            Assert.Equal(640, (int)shot["width"]!);
            Assert.Equal(360, (int)shot["height"]!);
            Assert.True((double)shot["spread"]! > 100, $"the picture looks blank: {shot.ToJsonString()}");
            Assert.Equal("live stream", (string?)shot["mode"]);
        }

        Assert.True((bool)verdict["screenshotsDiffer"]!, "two screenshots a second apart are identical: the picture is not live");
        Assert.Empty(verdict["consoleErrors"]!.AsArray());
        Assert.Equal("paused (tab hidden)", (string?)verdict["modeWhenHidden"]);
        Assert.Equal(0, server.GetRequiredService<Appliance.Streaming.ViewerTracker>().Count);
    }

    [Fact]
    public async Task Page_ThroughSignedLink_WorksForRemoteViewerInChromium()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=pw", "--Camera:Width=640", "--Camera:Height=360");
        var link = server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/", TimeSpan.FromMinutes(5));
        var verdict = await RunPageScriptAsync(new Uri(server.BaseAddress, link));

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        Assert.True((bool)verdict["screenshotsDiffer"]!);
        Assert.Empty(verdict["consoleErrors"]!.AsArray());
    }

    /// <summary>
    /// Some in-app browsers never paint a multipart stream. "abort": the stream request fails (the page's error handler
    /// switches after 1 s); "hang": it stays pending without a byte (the page's 4 s watchdog switches). Either way the
    /// page must poll snapshots and show a live, non-blank picture.
    /// </summary>
    [Theory]
    [InlineData("abort")]
    [InlineData("hang")]
    public async Task Page_StreamNeverPaints_FallsBackToPollingSnapshotsThatChange(string blockStream)
    {
        await using var server = await ApplianceServer.StartAsync("--Camera:Width=640", "--Camera:Height=360");
        var verdict = await RunPageScriptAsync(server.BaseAddress, blockStream);

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        foreach (var shot in new[] { verdict["first"]!, verdict["second"]! })
        {
            Assert.Equal(640, (int)shot["width"]!);
            Assert.Equal(360, (int)shot["height"]!);
            Assert.True((double)shot["spread"]! > 100, $"the picture looks blank: {shot.ToJsonString()}");
            Assert.Equal("snapshot mode", (string?)shot["mode"]);
        }

        Assert.True((bool)verdict["screenshotsDiffer"]!, "two screenshots a second apart are identical: the snapshots are not refreshed");
        Assert.True((int)verdict["requests"]!["stream"]! >= 1, verdict.ToJsonString());

        // One snapshot every 0.5 s: at least the first plus two more over the second between the screenshots.
        Assert.True((int)verdict["requests"]!["snapshot"]! >= 3, verdict.ToJsonString());
        Assert.Empty(verdict["consoleErrors"]!.AsArray());
        Assert.Equal("paused (tab hidden)", (string?)verdict["modeWhenHidden"]);
    }

    /// <summary>
    /// The stream fails for a moment (the appliance restarting, the link dropping): the page polls snapshots meanwhile,
    /// then goes back to the live stream by itself instead of staying on snapshots for good.
    /// </summary>
    [Fact]
    public async Task Page_StreamFailsForAMoment_PollsThenGoesBackToTheLiveStream()
    {
        await using var server = await ApplianceServer.StartAsync("--Camera:Width=640", "--Camera:Height=360");
        var verdict = await RunPageScriptAsync(server.BaseAddress, "abort-first");

        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());
        Assert.InRange((double)verdict["msToLiveAgain"]!, 3000, 30000);
        foreach (var shot in new[] { verdict["first"]!, verdict["second"]! })
        {
            Assert.Equal("live stream", (string?)shot["mode"]);
            Assert.True((double)shot["spread"]! > 100, $"the picture looks blank: {shot.ToJsonString()}");
        }

        Assert.True((bool)verdict["screenshotsDiffer"]!, "two screenshots a second apart are identical: the stream did not resume");
        Assert.True((int)verdict["requests"]!["stream"]! >= 2, verdict.ToJsonString());
        Assert.True((int)verdict["requests"]!["snapshot"]! >= 1, verdict.ToJsonString());
    }
}
