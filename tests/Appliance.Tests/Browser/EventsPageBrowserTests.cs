using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Browser;

/// <summary>The /events page in Debian's headless Chromium (tests/browser/events-page.mjs) at a phone's width.</summary>
[Collection(TimingSensitive.Name)]
public sealed class EventsPageBrowserTests
{
    [Fact]
    public async Task EventsPage_AtPhoneWidth_GroupsByLocalDay_Filters_PlaysInPlace_AdminDeletes_ViewerCannot()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=pw");
        var store = server.GetRequiredService<EventStore>();

        // In Asia/Shanghai (UTC+8, the browser's zone here) the first two are on 6 December, the rest on the 7th.
        var t = new DateTimeOffset(2026, 12, 6, 15, 0, 0, TimeSpan.Zero);
        var motion = store.Add("motion", t, t.AddSeconds(7), "camera", null);
        var on = store.Add("switch", t.AddMinutes(30), t.AddMinutes(30), "porch:on", "wecom:dad");
        var lost = store.Add("camera", t.AddHours(2), null, "test camera unplugged", null);
        var withClip = store.Add("motion", t.AddHours(2).AddMinutes(5), t.AddHours(2).AddMinutes(5).AddSeconds(4), "with-clip", null);
        var live = store.Add("wecom", t.AddHours(2).AddMinutes(10), t.AddHours(2).AddMinutes(10), "live", "wecom:alice");

        var viewerLink = new Uri(server.BaseAddress, server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/events", TimeSpan.FromMinutes(5)));
        var browserDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "browser"));
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")),
            "playwright-core is not installed in tests/browser; run tests/setup.sh (the README's test command does).");
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("node"),
            [Path.Combine(browserDir, "events-page.mjs"), server.BaseAddress.ToString(), "family:pw", viewerLink.ToString()],
            TimeSpan.FromSeconds(120), null, browserDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var verdict = JsonNode.Parse(result.Stdout.Trim().Split('\n')[^1])!;
        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());

        Assert.Equal("events", (string?)verdict["liveLink"]);
        Assert.Equal("/events", (string?)verdict["path"]);
        var admin = verdict["admin"]!;
        Assert.Equal(["2026-12-07", "2026-12-06"], admin["days"]!.AsArray().Select(d => (string?)d));
        Assert.Equal(
            [$"event-{live}:wecom", $"event-{withClip}:motion", $"event-{lost}:camera", $"event-{on}:switch", $"event-{motion}:motion"],
            admin["cards"]!.AsArray().Select(c => (string?)c));
        Assert.Equal(4, (int)admin["placeholders"]!); // every event but the one with a thumbnail
        Assert.Equal(5, (int)admin["deleteButtons"]!);
        Assert.False((bool)admin["overflowsWidth"]!, "the page is wider than a 360 px phone");
        Assert.True((int)verdict["thumbnailWidth"]! > 0);
        Assert.Equal("/stream", (string?)verdict["playingSrc"]);
        Assert.Equal("/snapshot", (string?)verdict["stoppedSrc"]);
        Assert.Equal([$"event-{on}:switch"], verdict["filtered"]!["cards"]!.AsArray().Select(c => (string?)c));
        Assert.Equal($"event-{live}", (string?)verdict["deleted"]);
        Assert.Equal(4, verdict["afterDelete"]!["cards"]!.AsArray().Count);
        Assert.DoesNotContain(store.List(null, 10, null), e => e.Id == live);
        Assert.Empty(verdict["consoleErrors"]!.AsArray());

        var viewer = verdict["viewer"]!;
        Assert.Equal(4, viewer["cards"]!.AsArray().Count);
        Assert.Equal(0, (int)viewer["deleteButtons"]!);
        Assert.False((bool)viewer["overflowsWidth"]!);
        Assert.StartsWith("./?t=", (string?)verdict["viewerLiveLink"], StringComparison.Ordinal);
    }
}
