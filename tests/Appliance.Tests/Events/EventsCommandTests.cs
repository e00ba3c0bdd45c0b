using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Appliance.Auth;
using Appliance.Events;
using Appliance.Events.Recording;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Appliance.WeCom.Api;

namespace Appliance.Tests.Events;

/// <summary>回放 / events in WeCom, through the callback as WeCom sends it.</summary>
public sealed class EventsCommandTests
{
    [Fact]
    public async Task Events_FromAMember_NewsOfTheLastFiveWithThumbnailsAndSignedLinksThatOpenTheEventsPage()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, "--WeCom:PublicBaseUrl=https://cam.example.org", "--Web:TrustLoopback=false", "--Web:Password=pw"));
        var store = server.GetRequiredService<EventStore>();
        var t = new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 6).Select(i => store.Add(i % 2 == 0 ? "motion" : "switch", t.AddMinutes(i), t.AddMinutes(i).AddSeconds(i % 2 == 0 ? 4 : 0), i % 2 == 0 ? "camera" : "porch:on", i % 2 == 0 ? null : "wecom:dad")).ToList();
        // The motion event at 08:04 has a recording: a one-frame clip whose frame is its thumbnail.
        var snapshot = server.GetRequiredService<LinkSigner>().Sign("/snapshot", TimeSpan.FromMinutes(1));
        var jpeg = await server.CreateClient().GetByteArrayAsync(new Uri(snapshot, UriKind.Relative));
        var header = ClipFormat.Header(jpeg.Length, t.AddMinutes(4));
        var files = server.GetRequiredService<ClipFiles>();
        Directory.CreateDirectory(files.Directory);
        await File.WriteAllBytesAsync(files.ClipPath(ids[4]), [.. header, .. jpeg, .. "\r\n"u8.ToArray()]);
        store.SetClip(new ClipEntry(ids[4], "complete", 1, header.Length + jpeg.Length + 2, t.AddMinutes(4), t.AddMinutes(4), header.Length, jpeg.Length));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "回放", WeComCallbackClient.NextMsgId())));

        // A passive news reply: five cards, newest first, the oldest event left out.
        Assert.Equal("news", reply["MsgType"]);
        var xml = XDocument.Parse(reply["_xml"]).Root!;
        Assert.Equal("5", xml.Element("ArticleCount")!.Value);
        var items = xml.Element("Articles")!.Elements("item").ToList();
        Assert.Equal(5, items.Count);
        Assert.Equal("12-07 08:05:00 switch", items[0].Element("Title")!.Value);
        Assert.Equal("porch:on (wecom:dad)", items[0].Element("Description")!.Value);
        Assert.Equal("12-07 08:04:00 motion 4 s", items[1].Element("Title")!.Value);
        Assert.Equal("camera", items[1].Element("Description")!.Value);
        Assert.Equal("12-07 08:01:00 switch", items[4].Element("Title")!.Value);
        Assert.DoesNotContain($"id={ids[0]}&", reply["_xml"], StringComparison.Ordinal);
        Assert.StartsWith($"https://cam.example.org/events?id={ids[5]}&t=", items[0].Element("Url")!.Value, StringComparison.Ordinal);
        Assert.StartsWith($"https://cam.example.org/events?id={ids[4]}&t=", items[1].Element("Url")!.Value, StringComparison.Ordinal);

        // Only the event with a recording has a picture: its thumbnail through the public address, signed.
        Assert.Equal("", items[0].Element("PicUrl")!.Value);
        var picture = new Uri(items[1].Element("PicUrl")!.Value);
        Assert.Equal("cam.example.org", picture.Host);
        Assert.Equal($"/api/events/{ids[4]}/thumbnail.jpg", picture.AbsolutePath);
        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(picture.AbsolutePath)).StatusCode); // no token, no login
        var thumbnail = await anonymous.GetAsync(picture.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
        Assert.Equal("image/jpeg", thumbnail.Content.Headers.ContentType?.MediaType);
        Assert.Equal(jpeg, await thumbnail.Content.ReadAsByteArrayAsync());

        // The link opens the page and its timeline for someone with no login; deleting stays refused.
        var link = new Uri(items[0].Element("Url")!.Value);
        Assert.NotEqual(HttpStatusCode.OK, (await anonymous.GetAsync("/events")).StatusCode); // no link, no login
        var page = await anonymous.GetAsync(link.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var token = Regex.Match(link.Query, "t=([^&]+)").Groups[1].Value;
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"/api/events?t={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.DeleteAsync($"/api/events/{ids[5]}?t={token}")).StatusCode);
    }

    [Fact]
    public async Task Events_WithoutAPublicAddress_TextWithoutLinksSayingWhy()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var store = server.GetRequiredService<EventStore>();
        var t = new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
        store.Add("motion", t, t.AddSeconds(4), "camera", null);
        store.Add("switch", t.AddMinutes(1), t.AddMinutes(1), "porch:on", "wecom:dad");
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "events", WeComCallbackClient.NextMsgId())));

        Assert.Equal("text", reply["MsgType"]);
        Assert.Equal(
            "最近事件 Last events:\n12-07 08:01:00 switch porch:on (wecom:dad)\n12-07 08:00:00 motion 4 s camera\n"
            + "(没有公网地址，无法附链接 no links: set WeCom:PublicBaseUrl or configure the relay)",
            reply["Content"]);
    }

    [Fact]
    public async Task News_BySend_ArticlesAsWeComTakesThemWithTitlesCutAtTheirLimit()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var longTitle = string.Concat(Enumerable.Repeat("移动", 40)); // 240 bytes in UTF-8
        var news = new NewsMessage([
            new NewsArticle(longTitle, "camera", "https://cam.example.org/events?id=2&t=x", "https://cam.example.org/api/events/2/thumbnail.jpg?t=x"),
            new NewsArticle("12-07 08:01:00 switch", "porch:on", "https://cam.example.org/events?id=1&t=x", null),
        ]);

        var sent = await server.GetRequiredService<WeComApiClient>().SendAsync("alice", news, CancellationToken.None);

        Assert.True(sent.IsSuccess);
        var body = FakeWeComServer.Json(api.CallsTo("message/send").Single());
        Assert.Equal("news", body.GetProperty("msgtype").GetString());
        var articles = body.GetProperty("news").GetProperty("articles").EnumerateArray().ToList();
        Assert.Equal(2, articles.Count);
        var title = articles[0].GetProperty("title").GetString()!;
        Assert.True(Encoding.UTF8.GetByteCount(title) <= NewsMessage.MaxTitleBytes);
        Assert.StartsWith("移动移动", title, StringComparison.Ordinal);
        Assert.Equal("https://cam.example.org/api/events/2/thumbnail.jpg?t=x", articles[0].GetProperty("picurl").GetString());
        Assert.Equal("https://cam.example.org/events?id=1&t=x", articles[1].GetProperty("url").GetString());
        Assert.False(articles[1].TryGetProperty("picurl", out _));

        // WeCom takes 1 to 8 articles.
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewsMessage([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewsMessage([.. Enumerable.Repeat(new NewsArticle("a", "b", "https://c", null), 9)]));
    }
}
