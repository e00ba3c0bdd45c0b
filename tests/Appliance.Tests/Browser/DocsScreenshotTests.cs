using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Browser;

/// <summary>
/// The README's two pictures, made from the real appliance every time the suite runs, so they show what it serves:
/// the page (with GPIO pins) and a WeCom chat whose answers are the appliance's own (texts, and the photo it uploaded).
/// They are written to docs/images/ (commit them when they change) and to the test results.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class DocsScreenshotTests
{
    private static readonly string Root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    private static readonly string[] Pins =
    [
        "--Gpio:Pins:porch-light:Line=17", "--Gpio:Pins:porch-light:Aliases:0=灯", "--Gpio:Pins:porch-light:Aliases:1=light",
        "--Gpio:Pins:door:Line=23", "--Gpio:Pins:door:PulseMs=800",
        "--Gpio:Pins:doorbell:Line=27", "--Gpio:Pins:doorbell:Mode=Input", "--Gpio:Pins:doorbell:OnPress=Snapshot",
    ];

    [Fact]
    public async Task Screenshots_PageAndWeComChat_AreMadeFromTheRealAppliance()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(
            WeComCallbackClient.Settings(api, [.. Pins, "--Camera:Width=640", "--Camera:Height=360"]));

        // The chat: what a family admin sends, and what the appliance answers (passive replies, decrypted).
        var client = WeComCallbackClient.For(server);
        var chat = new List<(bool FromMember, string Html)>();
        foreach (var message in new[] { "帮助", "拍照", "开灯", "状态" })
        {
            chat.Add((true, WebUtility.HtmlEncode(message)));
            var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", message, WeComCallbackClient.NextMsgId())));
            chat.Add((false, reply["MsgType"] switch
            {
                "text" => WebUtility.HtmlEncode(reply["Content"]).Replace("\n", "<br>", StringComparison.Ordinal),
                "image" => $"<img src=\"data:image/jpeg;base64,{Convert.ToBase64String(api.CallsTo("media/upload").Last().Upload!.Bytes)}\">",
                var other => throw new InvalidOperationException($"unexpected reply type {other}"),
            }));
        }

        Assert.Contains(chat, m => m.Html.StartsWith("<img src=\"data:image/jpeg;base64,/9j/", StringComparison.Ordinal));
        var chatPage = Path.Combine(Directory.CreateTempSubdirectory("wecom-chat-").FullName, "chat.html");
        await File.WriteAllTextAsync(chatPage, ChatHtml(chat), Encoding.UTF8);

        var page = await ShootAsync(server.BaseAddress.ToString(), "page.png", "() => document.getElementById('live').naturalWidth > 0");
        Assert.Contains("porch-light", (string?)page["text"], StringComparison.Ordinal);
        Assert.Empty(page["consoleErrors"]!.AsArray());

        var wecom = await ShootAsync(new Uri(chatPage).AbsoluteUri, "wecom-chat.png", null);
        Assert.Contains("porch-light 已打开 is on", (string?)wecom["text"], StringComparison.Ordinal);
    }

    private static async Task<JsonNode> ShootAsync(string url, string name, string? ready)
    {
        var browserDir = Path.Combine(Root, "tests", "browser");
        var output = Path.Combine(Root, "docs", "images", name);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("node"),
            [Path.Combine(browserDir, "screenshot.mjs"), url, output, "420", "760", .. ready is null ? Array.Empty<string>() : [ready]],
            TimeSpan.FromSeconds(90), null, browserDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var verdict = JsonNode.Parse(result.Stdout.Trim().Split('\n')[^1])!;
        Assert.True((bool)verdict["ok"]!, verdict.ToJsonString());

        // A PNG with something on it (a blank 420x760 page compresses to a few KB).
        var png = await File.ReadAllBytesAsync(output);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.True(png.Length > 20_000, $"{name} is only {png.Length} bytes");
        if (Environment.GetEnvironmentVariable("TEST_RESULTS_DIR") is { Length: > 0 } results)
        {
            File.Copy(output, Path.Combine(results, name), overwrite: true);
        }

        return verdict;
    }

    /// <summary>A phone-sized chat in WeCom's colours; only the layout is ours, every answer is the appliance's.</summary>
    private static string ChatHtml(IEnumerable<(bool FromMember, string Html)> messages)
    {
        var body = new StringBuilder();
        foreach (var (fromMember, html) in messages)
        {
            body.Append(fromMember ? "<div class=\"row me\"><div class=\"bubble\">" : "<div class=\"row\"><div class=\"avatar\">家</div><div class=\"bubble\">")
                .Append(html).Append("</div></div>\n");
        }

        return $$"""
            <!doctype html><html><head><meta charset="utf-8"><title>家里 · WeCom</title><style>
            body { margin: 0; background: #ededed; font: 15px/1.45 sans-serif; }
            header { background: #f7f7f7; border-bottom: 1px solid #ddd; text-align: center; padding: 12px; font-weight: 600; }
            .row { display: flex; margin: 12px 10px; align-items: flex-start; }
            .row.me { justify-content: flex-end; }
            .avatar { width: 36px; height: 36px; border-radius: 4px; background: #3b7be0; color: #fff; display: flex;
                      align-items: center; justify-content: center; margin-right: 8px; flex: none; }
            .bubble { background: #fff; border-radius: 6px; padding: 8px 11px; max-width: 300px; word-wrap: break-word; }
            .me .bubble { background: #a6d6ff; }
            .bubble img { max-width: 260px; display: block; border-radius: 4px; }
            </style></head><body><header>家里</header>
            {{body}}</body></html>
            """;
    }
}
