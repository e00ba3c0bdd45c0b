using System.Net;
using System.Text.RegularExpressions;
using Appliance.Events;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Events;

/// <summary>回放 / events in WeCom, through the callback as WeCom sends it.</summary>
public sealed class EventsCommandTests
{
    [Fact]
    public async Task Events_FromAMember_LastFiveWithSignedLinksThatOpenTheEventsPage()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, "--WeCom:PublicBaseUrl=https://cam.example.org", "--Web:TrustLoopback=false", "--Web:Password=pw"));
        var store = server.GetRequiredService<EventStore>();
        var t = new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 6).Select(i => store.Add(i % 2 == 0 ? "motion" : "switch", t.AddMinutes(i), t.AddMinutes(i).AddSeconds(i % 2 == 0 ? 4 : 0), i % 2 == 0 ? "camera" : "porch:on", i % 2 == 0 ? null : "wecom:dad")).ToList();
        var client = WeComCallbackClient.For(server);

        var reply = (await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "回放", WeComCallbackClient.NextMsgId()))))["Content"];

        var lines = reply.Split('\n');
        Assert.Equal("最近事件 Last events:", lines[0]);
        Assert.Equal(6, lines.Length); // five events, newest first; the oldest left out
        Assert.StartsWith("12-07 08:05:00 switch porch:on (wecom:dad) <a href=\"https://cam.example.org/events?id=" + ids[5] + "&t=", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("12-07 08:04:00 motion 4 s camera <a href=", lines[2], StringComparison.Ordinal);
        Assert.DoesNotContain($"id={ids[0]}&", reply, StringComparison.Ordinal);

        // The link opens the page and its timeline for someone with no login; deleting stays refused.
        var link = new Uri(Regex.Match(lines[1], "href=\"([^\"]+)\"").Groups[1].Value);
        using var anonymous = server.CreateClient();
        Assert.NotEqual(HttpStatusCode.OK, (await anonymous.GetAsync("/events")).StatusCode); // no link, no login
        var page = await anonymous.GetAsync(link.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var token = Regex.Match(link.Query, "t=([^&]+)").Groups[1].Value;
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"/api/events?t={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.DeleteAsync($"/api/events/{ids[5]}?t={token}")).StatusCode);
    }
}
