using System.Net;
using System.Text;
using Appliance.Tests.Infrastructure;
using Appliance.WeCom.Callback;

namespace Appliance.Tests.WeCom;

public sealed class CallbackEndpointTests
{
    [Fact]
    public async Task Callback_NotConfigured_Answers404AndAppletRuns()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var http = server.CreateClient();

        var get = await http.GetAsync("/wecom/callback?msg_signature=a&timestamp=1&nonce=2&echostr=x");
        var post = await http.PostAsync("/wecom/callback", new StringContent("<xml/>"));
        var status = await http.GetAsync("/api/status");

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
    }

    [Fact]
    public async Task Get_UrlVerification_AnswersPlainEchoWithoutQuotesOrNewline()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var timestamp = FakeWeComServer.Unix(DateTimeOffset.UtcNow);
        var echostr = client.Crypto.Encrypt("1288432023552776189");
        var signature = client.Crypto.Signature(timestamp, "47744683", echostr);
        using var http = server.CreateClient();

        var response = await http.GetAsync($"/wecom/callback?msg_signature={signature}&timestamp={timestamp}&nonce=47744683&echostr={Uri.EscapeDataString(echostr)}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1288432023552776189", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("wrong-signature")]
    [InlineData("stale-timestamp")]
    [InlineData("not-base64-echostr")]
    [InlineData("other-corp-echostr")]
    [InlineData("no-echostr")]
    public async Task Get_UrlVerificationForged_4xxAndNoEcho(string forgery)
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var at = forgery == "stale-timestamp" ? DateTimeOffset.UtcNow.AddMinutes(-6) : DateTimeOffset.UtcNow;
        var timestamp = FakeWeComServer.Unix(at);
        var echostr = forgery switch
        {
            "not-base64-echostr" => "not*base64!",
            "other-corp-echostr" => new Appliance.WeCom.Crypto.WeComCrypto(WeComCallbackClient.Token, WeComCallbackClient.AesKey, "wwOTHERCORP000000").Encrypt("1288432023552776189"),
            _ => client.Crypto.Encrypt("1288432023552776189"),
        };
        var signature = client.Crypto.Signature(timestamp, "47744683", echostr);
        if (forgery == "wrong-signature")
        {
            signature = (signature[0] == '0' ? "1" : "0") + signature[1..];
        }

        using var http = server.CreateClient();
        var query = $"/wecom/callback?msg_signature={signature}&timestamp={timestamp}&nonce=47744683" + (forgery == "no-echostr" ? "" : $"&echostr={Uri.EscapeDataString(echostr)}");
        var response = await http.GetAsync(query);

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.DoesNotContain("1288432023552776189", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("subscribe")]
    [InlineData("unsubscribe")]
    [InlineData("location")]
    public async Task Post_EventNobodyAnswers_Empty200AndNothingSent(string eventName)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = WeComCallbackClient.For(server);

        var member = await client.PostAsync(WeComCallbackClient.EventXml("alice", eventName, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        var stranger = await client.PostAsync(WeComCallbackClient.EventXml("mallory", eventName, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

        foreach (var response in new[] { member, stranger })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }

        await Task.Delay(300);
        Assert.Empty(api.CallsTo("message/send"));
    }

    [Theory]
    [InlineData("image", "<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>")]
    [InlineData("location", "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label><![CDATA[home]]></Label>")]
    [InlineData("voice", "<MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format>")]
    public async Task Post_MessageTypeWithoutAHandler_AnsweredThatTextCommandsAreUnderstood(string type, string fields)
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var xml = $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[alice]]></FromUserName><CreateTime>{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}</CreateTime><MsgType><![CDATA[{type}]]></MsgType>{fields}<MsgId>{WeComCallbackClient.NextMsgId()}</MsgId><AgentID>{WeComCallbackClient.AgentId}</AgentID></xml>";

        var reply = await client.ReadReplyAsync(await client.PostAsync(xml));

        Assert.StartsWith("我只听得懂文字命令。I understand text commands.", reply["Content"], StringComparison.Ordinal);
        Assert.Contains("拍照 / photo", reply["Content"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_HelpFromAllowedUser_EncryptedPassiveTextReply()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "help", WeComCallbackClient.NextMsgId())));

        Assert.Equal("alice", reply["ToUserName"]);
        Assert.Equal(FakeWeComServer.CorpId, reply["FromUserName"]);
        Assert.Equal("text", reply["MsgType"]);
        Assert.Contains("拍照 / photo", reply["Content"], StringComparison.Ordinal);
        Assert.DoesNotContain("开 / on", reply["Content"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_UnknownTextFromAdmin_HelpIncludesAdminCommands()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "what is this", WeComCallbackClient.NextMsgId())));

        Assert.Contains("开 / on", reply["Content"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_EnterAgentEvent_AnswersHelp()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.EventXml("alice", "enter_agent", DateTimeOffset.UtcNow.ToUnixTimeSeconds())));

        Assert.Contains("帮助 / help", reply["Content"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_UserNotAllowed_PoliteRefusalLoggedAndNothingRuns()
    {
        var logs = new CapturingLoggerProvider();
        var counting = new CountingCommand();
        await using var server = await ApplianceServer.StartAsync(b => { logs.Install(b); CountingCommand.Register(counting)(b); }, WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("stranger", "count", WeComCallbackClient.NextMsgId())));

        Assert.Contains("Sorry", reply["Content"], StringComparison.Ordinal);
        Assert.Equal(0, counting.Runs);
        Assert.Contains(logs.Lines, l => l.Contains("stranger", StringComparison.Ordinal) && l.Contains("refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Post_UserIdInAnotherCase_TreatedAsThatMember()
    {
        // WeCom keeps UserIDs unique ignoring case: "Alice" and "DAD" are the configured alice and dad.
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, "--Gpio:Pins:light:Line=5"));
        var client = WeComCallbackClient.For(server);
        var chip = (Appliance.Hardware.Gpio.SimulatedGpioDriver)server.GetRequiredService<Appliance.Hardware.Gpio.GpioService>().Lines.Driver;

        var help = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("Alice", "help", WeComCallbackClient.NextMsgId())));
        var on = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("DAD", "on light", WeComCallbackClient.NextMsgId())));

        Assert.Contains("可用命令 Commands", help["Content"], StringComparison.Ordinal);
        Assert.Contains("light 已打开 is on", on["Content"], StringComparison.Ordinal);
        Assert.True(chip.PhysicalLevel(5));
    }

    [Fact]
    public async Task Post_AdminCommandFromFamily_RefusedAndOutputUnchanged()
    {
        // The outputs are the GPIO feature's pins, on its simulated chip.
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, "--Gpio:Pins:light:Line=5"));
        var client = WeComCallbackClient.For(server);
        var gpio = server.GetRequiredService<Appliance.Hardware.Gpio.IGpioService>();
        var chip = (Appliance.Hardware.Gpio.SimulatedGpioDriver)server.GetRequiredService<Appliance.Hardware.Gpio.GpioService>().Lines.Driver;

        var refused = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "on light", WeComCallbackClient.NextMsgId())));
        Assert.False(chip.PhysicalLevel(5));
        var done = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "开 light", WeComCallbackClient.NextMsgId())));

        Assert.Contains("only admins", refused["Content"], StringComparison.Ordinal);
        Assert.Contains("light", done["Content"], StringComparison.Ordinal);
        Assert.True(chip.PhysicalLevel(5));
        Assert.Equal("wecom:dad", gpio.GetPins().Single(p => p.Name == "light").ChangedBy);
    }

    [Fact]
    public async Task Post_ChineseWithoutSpace_AliasSwitchesItsOutputAndAnOrdinaryWordGetsHelp()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(
            null, "--Gpio:Pins:porch:Line=5", "--Gpio:Pins:porch:Aliases:0=灯"));
        var client = WeComCallbackClient.For(server);
        var chip = (Appliance.Hardware.Gpio.SimulatedGpioDriver)server.GetRequiredService<Appliance.Hardware.Gpio.GpioService>().Lines.Driver;

        var happy = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "开心", WeComCallbackClient.NextMsgId())));
        Assert.False(chip.PhysicalLevel(5));
        Assert.Contains("可用命令 Commands", happy["Content"], StringComparison.Ordinal);
        Assert.Contains("porch (灯)", happy["Content"], StringComparison.Ordinal);

        var on = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "开灯！", WeComCallbackClient.NextMsgId())));
        Assert.Contains("porch 已打开 is on", on["Content"], StringComparison.Ordinal);
        Assert.True(chip.PhysicalLevel(5));
    }

    [Fact]
    public async Task Post_OffAndPulseFromAdmin_SwitchOffAndPulseForThePinsOwnLength()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(
            null, "--Gpio:Pins:light:Line=5", "--Gpio:Pins:door:Line=6", "--Gpio:Pins:door:PulseMs=800"));
        var client = WeComCallbackClient.For(server);
        var chip = (Appliance.Hardware.Gpio.SimulatedGpioDriver)server.GetRequiredService<Appliance.Hardware.Gpio.GpioService>().Lines.Driver;
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "on light", WeComCallbackClient.NextMsgId())));
        Assert.True(chip.PhysicalLevel(5));

        var off = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "关 light", WeComCallbackClient.NextMsgId())));
        var pulse = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "脉冲 door", WeComCallbackClient.NextMsgId())));
        var pulsedAt = DateTime.UtcNow;

        Assert.Contains("light 已关闭 is off", off["Content"], StringComparison.Ordinal);
        Assert.False(chip.PhysicalLevel(5));
        Assert.Contains("door 已点动 pulsed for 0.8 s", pulse["Content"], StringComparison.Ordinal);
        Assert.True(chip.PhysicalLevel(6));
        while (chip.PhysicalLevel(6) == true && DateTime.UtcNow - pulsedAt < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        Assert.False(chip.PhysicalLevel(6));
    }

    [Fact]
    public async Task Post_Status_AnswersUptimeCameraAndViewersWithoutAnUnconfiguredTunnel()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "状态", WeComCallbackClient.NextMsgId())));

        var text = reply["Content"];
        Assert.Contains("运行 Uptime: 0d 0h", text, StringComparison.Ordinal);
        Assert.Contains("摄像头 Camera: synthetic", text, StringComparison.Ordinal);
        Assert.Contains("观看 Viewers: 0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Tunnel", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_Status_CountsEveryoneWatchingThroughTheRelay()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var viewers = server.GetRequiredService<Appliance.Streaming.ViewerTracker>();
        using var lan = viewers.Add("192.168.1.20", TimeProvider.System, fpsCap: null);
        using var relay = viewers.Add("127.0.0.1", TimeProvider.System, fpsCap: null, relayAudience: 1);
        viewers.SetRelayAudience(3); // the relay's count for its one shared stream

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "状态", WeComCallbackClient.NextMsgId())));

        Assert.Contains("观看 Viewers: 4 (3 经中继 through the relay)", reply["Content"], StringComparison.Ordinal);
    }

    public static TheoryData<string> HostileCases => new()
    {
        "wrong-signature", "stale-timestamp", "future-timestamp", "xxe", "billion-laughs", "ten-megabytes", "truncated-base64",
        "wrong-corpid", "garbage-xml", "missing-query", "inner-xxe", "empty-body", "same-length-wrong-signature",
        "chunked-over-max-body",
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public async Task Post_HostileInput_4xxRunsNothingServiceHealthy(string hostile)
    {
        var counting = new CountingCommand();
        await using var server = await ApplianceServer.StartAsync(CountingCommand.Register(counting), WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var plain = WeComCallbackClient.TextXml("alice", "count", WeComCallbackClient.NextMsgId());
        var (query, body) = client.Envelope(plain);

        switch (hostile)
        {
            case "wrong-signature":
                query = query.Replace("msg_signature=", "msg_signature=0", StringComparison.Ordinal)[..^1];
                break;
            case "stale-timestamp":
                (query, body) = client.Envelope(plain, DateTimeOffset.UtcNow.AddMinutes(-6));
                break;
            case "future-timestamp":
                (query, body) = client.Envelope(plain, DateTimeOffset.UtcNow.AddHours(2));
                break;
            case "xxe":
                body = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&x;</Encrypt></xml>";
                break;
            case "billion-laughs":
                body = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\"><!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\"><!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\"><!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\"><!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\"><!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\"><!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">]><xml><Encrypt>&lol9;</Encrypt></xml>";
                break;
            case "ten-megabytes":
                body = "<xml><Encrypt>" + new string('A', 10 * 1024 * 1024) + "</Encrypt></xml>";
                break;
            case "truncated-base64":
                {
                    var encrypt = client.Crypto.Encrypt(plain);
                    (query, body) = client.Envelope(plain, encryptOverride: encrypt[..^5]);
                    break;
                }

            case "wrong-corpid":
                {
                    var other = new Appliance.WeCom.Crypto.WeComCrypto(WeComCallbackClient.Token, WeComCallbackClient.AesKey, "wwOTHERCORP000000");
                    (query, body) = client.Envelope(plain, encryptOverride: other.Encrypt(plain));
                    break;
                }

            case "garbage-xml":
                body = "<xml><Encrypt>abc</Encr";
                break;
            case "missing-query":
                query = "";
                break;
            case "inner-xxe":
                {
                    var inner = "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>alice</FromUserName><MsgType>text</MsgType><Content>&x;</Content><MsgId>1</MsgId></xml>";
                    (query, body) = client.Envelope(inner);
                    break;
                }

            case "empty-body":
                body = "";
                break;
            case "same-length-wrong-signature":
                {
                    // A signature of the right length with one digit changed: refused by the comparison itself.
                    var at = query.IndexOf("msg_signature=", StringComparison.Ordinal) + "msg_signature=".Length;
                    var wrong = query[at + 39] == '0' ? '1' : '0';
                    query = string.Concat(query.AsSpan(0, at + 39), wrong.ToString(), query.AsSpan(at + 40));
                    break;
                }

            case "chunked-over-max-body":
                // No Content-Length: the size cap must hold while the body streams in.
                body = "<xml><Encrypt>" + new string('A', 70 * 1024) + "</Encrypt></xml>";
                break;
        }

        HttpResponseMessage response;
        try
        {
            response = await client.PostRawAsync(query, body, chunked: hostile == "chunked-over-max-body");
        }
        catch (HttpRequestException) when (hostile == "ten-megabytes")
        {
            // The server may close the connection while a client is still pushing an oversized body; that also
            // refuses it. What matters is below: nothing ran and the service still answers.
            response = new HttpResponseMessage(HttpStatusCode.RequestEntityTooLarge);
        }

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal(0, counting.Runs);
        var metrics = server.GetRequiredService<WeComMetrics>();
        Assert.True(metrics.Rejected >= 1);

        // Still healthy: a genuine message is answered.
        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "count ok", WeComCallbackClient.NextMsgId())));
        Assert.Equal("run 1 ok", reply["Content"]);
    }

    [Fact]
    public async Task Post_SameMsgIdTwice_RunsOnceAndAnswersBoth()
    {
        var counting = new CountingCommand();
        await using var server = await ApplianceServer.StartAsync(CountingCommand.Register(counting), WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var plain = WeComCallbackClient.TextXml("alice", "count", WeComCallbackClient.NextMsgId());

        var first = await client.ReadReplyAsync(await client.PostAsync(plain));
        var retry = await client.ReadReplyAsync(await client.PostAsync(plain));

        Assert.Equal(1, counting.Runs);
        Assert.Equal(first["Content"], retry["Content"]);
    }

    [Fact]
    public async Task Post_RetryWhileFirstInProgress_WaitsForItInsteadOfRunningAgain()
    {
        var counting = new CountingCommand { Duration = TimeSpan.FromMilliseconds(800) };
        await using var server = await ApplianceServer.StartAsync(CountingCommand.Register(counting), WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var plain = WeComCallbackClient.TextXml("alice", "count", WeComCallbackClient.NextMsgId());

        var first = client.PostAsync(plain);
        await Task.Delay(200);
        var retry = client.PostAsync(plain);
        var answers = await Task.WhenAll(first, retry);

        Assert.Equal(1, counting.Runs);
        Assert.Equal("run 1 ", (await client.ReadReplyAsync(answers[0]))["Content"]);
        Assert.Equal("run 1 ", (await client.ReadReplyAsync(answers[1]))["Content"]);
    }

    [Fact]
    public async Task Post_SameEventTwice_DedupedByUserTimeAndEvent()
    {
        var counting = new CountingCommand();
        await using var server = await ApplianceServer.StartAsync(CountingCommand.Register(counting), WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.EventXml("alice", "click", created, "count")));
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.EventXml("alice", "click", created, "count")));
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.EventXml("alice", "click", created + 1, "count")));

        Assert.Equal(2, counting.Runs);
    }

    [Fact]
    public async Task Post_OversizedReplyText_TruncatedTo2048Bytes()
    {
        await using var server = await ApplianceServer.StartAsync(CountingCommand.Register(new CountingCommand()), WeComCallbackClient.Settings(null));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "count " + new string('长', 1000), WeComCallbackClient.NextMsgId())));
        var emoji = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "count " + string.Concat(Enumerable.Repeat("😀", 600)), WeComCallbackClient.NextMsgId())));

        // As much as fits, cut between characters, marked with an ellipsis: 3-byte Chinese and 4-byte emoji alike.
        foreach (var (text, unit) in new[] { (reply["Content"], "长"), (emoji["Content"], "😀") })
        {
            Assert.StartsWith("run ", text, StringComparison.Ordinal);
            Assert.EndsWith(unit + "…", text, StringComparison.Ordinal);
            Assert.InRange(Encoding.UTF8.GetByteCount(text), 2048 - 3 - 3, 2048);
            Assert.DoesNotContain('\uFFFD', text);
        }
    }
}
