extern alias ApplianceApp;

using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Relay.WeCom;
using Dispatcher = ApplianceApp::Appliance.WeCom.Callback.MessageDispatcher;
using WeComCrypto = ApplianceApp::Appliance.WeCom.Crypto.WeComCrypto;

namespace Relay.Tests;

/// <summary>
/// The whole chain with the appliance's real WeCom feature: WeCom → relay (signature check, store-and-forward) →
/// tunnel → appliance (decrypt, dedupe, run) → message/send on a fake WeCom API.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class WeComThroughRelayTests
{
    // The relay holds the Token (RelayServer.WeComToken), the appliance the Token and the AES key.
    private const string AesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    private static readonly WeComCrypto Crypto = new(RelayServer.WeComToken, AesKey, FakeWeComServer.CorpId);
    private static long _msgId = DateTime.UtcNow.Ticks;

    private static string[] WeComSettings(FakeWeComServer api, params string[] extra) =>
    [
        $"--WeCom:CorpId={FakeWeComServer.CorpId}", $"--WeCom:Token={RelayServer.WeComToken}", $"--WeCom:EncodingAesKey={AesKey}",
        $"--WeCom:Secret={FakeWeComServer.Secret}", "--WeCom:AgentId=1000002", $"--WeCom:ApiBaseUrl={api.BaseAddress}",
        "--WeCom:AllowedUsers:0=alice", .. extra,
    ];

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient relay, string from, string text, DateTimeOffset? signedAt = null, string path = $"/{RelayServer.Name}/wecom/callback")
    {
        var msgId = Interlocked.Increment(ref _msgId).ToString(CultureInfo.InvariantCulture);
        var now = (signedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var plain = $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msgId}</MsgId><AgentID>1000002</AgentID></xml>";
        var encrypt = Crypto.Encrypt(plain);
        var timestamp = now.ToString(CultureInfo.InvariantCulture);
        var nonce = Random.Shared.Next(100000, int.MaxValue).ToString(CultureInfo.InvariantCulture);
        var signature = Crypto.Signature(timestamp, nonce, encrypt);
        var body = $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>";
        return await relay.PostAsync($"{path}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
            new StringContent(body, Encoding.UTF8, "text/xml"));
    }

    /// <summary>A passive reply (200, an encrypted XML envelope), decrypted.</summary>
    private static async Task<string> DecryptedReplyAsync(HttpResponseMessage response)
    {
        var reply = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<Encrypt>", reply, StringComparison.Ordinal);
        return Crypto.Decrypt(reply.Split("<Encrypt><![CDATA[")[1].Split("]]>")[0]);
    }

    /// <summary>With a tunnel, the appliance's API calls leave through the relay, which must allow the fake API.</summary>
    private static string AllowEgressTo(FakeWeComServer api) => $"--Relay:EgressAllowList:0=127.0.0.1:{api.BaseAddress.Port}";

    private static string[] SentTexts(FakeWeComServer api) =>
        [.. api.CallsTo("message/send").Select(c => FakeWeComServer.Json(c).GetProperty("text").GetProperty("content").GetString() ?? "")];

    [Fact]
    public async Task UrlVerification_ThroughRelay_EchoesTheDecryptedStringOnlyWhenSignedAndOnline()
    {
        // Registering the callback URL in WeCom's console: a GET whose echostr only the appliance can decrypt.
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using var client = relay.CreateClient();
        var echo = Crypto.Encrypt("echo-" + Guid.NewGuid().ToString("N"));
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        const string Nonce = "1234567";
        string Url(string signature) =>
            $"/{RelayServer.Name}/wecom/callback?msg_signature={signature}&timestamp={timestamp}&nonce={Nonce}&echostr={Uri.EscapeDataString(echo)}";
        var signed = Url(Crypto.Signature(timestamp, Nonce, echo));

        using var offline = await client.GetAsync(signed);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, offline.StatusCode);

        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, WeComSettings(api));
        await appliance.WaitConnectedAsync();
        using var forged = await client.GetAsync(Url(new string('0', 40)));
        using var verified = await client.GetAsync(signed);

        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, verified.StatusCode);
        Assert.Equal(Crypto.Decrypt(echo), await verified.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Callbacks_WhileApplianceOffline_AnsweredAtOnce_SurviveRelayRestart_RunOnceEachAfterReconnect()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using (var client = relay.CreateClient())
        {
            foreach (var text in new[] { "help", "status", "帮助" })
            {
                var started = DateTime.UtcNow;
                using var response = await SendAsync(client, "alice", text);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("", await response.Content.ReadAsStringAsync());
                Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1), "WeCom must get its answer within a second");
            }
        }

        await relay.RestartAsync();
        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, WeComSettings(api));
        await appliance.WaitConnectedAsync();

        Assert.True(await FakeWeComServer.EventuallyAsync(() => SentTexts(api).Length >= 3, TimeSpan.FromSeconds(30)),
            $"sent: {string.Join(" | ", SentTexts(api))}");
        await Task.Delay(2000); // any second run would show up now
        var sent = SentTexts(api);
        Assert.Equal(3, sent.Length);
        Assert.Equal(3, appliance.Services.GetRequiredService<Dispatcher>().Executions);
        Assert.All(api.CallsTo("message/send"), c => Assert.Equal("alice", FakeWeComServer.Json(c).GetProperty("touser").GetString()));
        Assert.DoesNotContain(sent, t => t.Contains("Working on it", StringComparison.Ordinal)); // replays are answered once, not announced
    }

    /// <summary>
    /// The relay takes a callback at any spelling its own routing accepts (case, repeated or trailing slashes, as the
    /// appliance's routing ignores case and a trailing slash); stored while the appliance is offline, it must reach the
    /// appliance's real endpoint on replay and run there, once.
    /// </summary>
    [Theory]
    [InlineData("/WeCom/callback/")]
    [InlineData("/wecom//callback")]
    [InlineData("//wecom/CALLBACK//")]
    public async Task Callback_VariantPathWhileApplianceOffline_StoredThenReplayedToTheRealEndpoint_RunsOnce(string variant)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        var store = relay.Services.GetRequiredService<CallbackRelay>();
        using (var client = relay.CreateClient())
        {
            using var response = await SendAsync(client, "alice", "help", path: $"/{RelayServer.Name}{variant}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, store.Pending(RelayServer.Name));
        await AssertReplayedOnceAfterConnectAsync(api, relay);
    }

    [Fact]
    public async Task Callback_StoredUnderAVariantPathByAnOlderRelay_ReplayedToTheRealEndpoint_RunsOnce()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using (var client = relay.CreateClient())
        {
            using var response = await SendAsync(client, "alice", "help");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The row as a relay from before the fix kept it: the path as the visitor spelled it (the appliance does not route //).
        using (var database = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(relay.StateDirectory, "callbacks.db")};Pooling=False"))
        {
            database.Open();
            using var update = database.CreateCommand();
            update.CommandText = "UPDATE callbacks SET path_and_query = '//wecom/CALLBACK//' || substr(path_and_query, instr(path_and_query, '?'))";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        await AssertReplayedOnceAfterConnectAsync(api, relay);
    }

    /// <summary>The one stored callback is replayed when an appliance connects: it runs once, one answer is sent, nothing stays stored.</summary>
    private static async Task AssertReplayedOnceAfterConnectAsync(FakeWeComServer api, RelayServer relay, TimeProvider? applianceClock = null)
    {
        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, applianceClock, WeComSettings(api));
        await appliance.WaitConnectedAsync();

        var dispatcher = appliance.Services.GetRequiredService<Dispatcher>();
        var store = relay.Services.GetRequiredService<CallbackRelay>();
        Assert.True(await FakeWeComServer.EventuallyAsync(() => dispatcher.Executions >= 1 && SentTexts(api).Length >= 1, TimeSpan.FromSeconds(20)),
            $"executions: {dispatcher.Executions}, sent: {string.Join(" | ", SentTexts(api))}, still stored: {store.Pending(RelayServer.Name)}");
        Assert.True(await FakeWeComServer.EventuallyAsync(() => store.Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(5)));
        await Task.Delay(2000); // any second run would show up now
        Assert.Equal(1, dispatcher.Executions);
        Assert.Single(SentTexts(api));
    }

    [Theory]
    [InlineData("/wecom/callback?msg_signature=a&timestamp=1&nonce=2", "/wecom/callback?msg_signature=a&timestamp=1&nonce=2")]
    [InlineData("//WeCom//callback/?msg_signature=a", "/wecom/callback?msg_signature=a")]
    [InlineData("/wecom/callback", "/wecom/callback")]
    public void ReplayTarget_AnyStoredSpelling_TheAppliancesEndpointWithTheStoredQuery(string stored, string expected) =>
        Assert.Equal(expected, CallbackReplay.ReplayTarget(stored));

    [Fact]
    public async Task Callback_ReplayedAfterReplayMaxAge_IsNotRun_SenderIsTold()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using (var client = relay.CreateClient())
        {
            using var response = await SendAsync(client, "alice", "status");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Task.Delay(2500);
        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, WeComSettings(api, "--WeCom:ReplayMaxAge=00:00:02"));
        await appliance.WaitConnectedAsync();

        Assert.True(await FakeWeComServer.EventuallyAsync(() => SentTexts(api).Length >= 1, TimeSpan.FromSeconds(30)));
        var notice = Assert.Single(SentTexts(api));
        Assert.Contains("offline", notice, StringComparison.Ordinal);
        Assert.Contains("status", notice, StringComparison.Ordinal);
        Assert.Equal(0, appliance.Services.GetRequiredService<Dispatcher>().Executions);
    }

    [Fact]
    public async Task Callback_SignedLongerAgoThanReplayMaxAge_ReplayedJustAfterReceipt_IsNotRun_SenderIsTold()
    {
        // Signed 3 minutes ago (within the relay's Relay:MaxClockSkew, so stored), replayed a moment after the relay got
        // it: its age is the signature's, so with WeCom:ReplayMaxAge at one minute it is too old to run.
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using (var client = relay.CreateClient())
        {
            using var response = await SendAsync(client, "alice", "status", signedAt: DateTimeOffset.UtcNow.AddMinutes(-3));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, WeComSettings(api, "--WeCom:ReplayMaxAge=00:01:00"));
        await appliance.WaitConnectedAsync();

        Assert.True(await FakeWeComServer.EventuallyAsync(() => SentTexts(api).Length >= 1, TimeSpan.FromSeconds(30)));
        var notice = Assert.Single(SentTexts(api));
        Assert.Contains("offline", notice, StringComparison.Ordinal);
        Assert.Equal(0, appliance.Services.GetRequiredService<Dispatcher>().Executions);
    }

    [Fact]
    public async Task Callback_ApplianceOnline_PassiveReplyComesBackThroughTheRelay()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var tunnelled = await RelayWithAppliance.StartWithWeComAsync([AllowEgressTo(api)], WeComSettings(api));
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        using var response = await SendAsync(client, "alice", "help");
        Assert.Contains("photo", await DecryptedReplyAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiCalls_WithTunnel_LeaveThroughTheRelay_AndStopAtItsAllowList()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var tunnelled = await RelayWithAppliance.StartWithWeComAsync([], WeComSettings(api)); // default allow-list: only WeChat's own hosts
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        using var response = await SendAsync(client, "alice", "photo"); // needs gettoken and media/upload
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Task.Delay(3000);
        Assert.Empty(api.Calls); // refused at the relay: the appliance never reached the API directly
    }

    [Fact]
    public async Task Callback_ApplianceClockTwoHoursBehind_RelayVouchesForTheTime_PassiveReplyComesBack()
    {
        // A Pi without a real-time clock boots with the time it last saved (after a power cut: hours behind) until NTP
        // syncs. The relay checked the callback's signed time against its own clock; the appliance must not refuse it,
        // or the relay, told 403, drops what a family member sent.
        await using var api = await FakeWeComServer.StartAsync();
        await using var tunnelled = await RelayWithAppliance.StartWithWeComAsync([AllowEgressTo(api)], WeComSettings(api), new ShiftedClock(TimeSpan.FromHours(-2)));
        var (relay, appliance) = tunnelled;
        using var client = relay.CreateClient();

        using var response = await SendAsync(client, "alice", "help");

        Assert.Contains("photo", await DecryptedReplyAsync(response), StringComparison.Ordinal);
        Assert.Equal(1, appliance.Services.GetRequiredService<Dispatcher>().Executions);
    }

    [Fact]
    public async Task Callback_StoredWhileOffline_ApplianceClockTwoHoursAhead_AgedByTheRelaysClock_RunsOnce()
    {
        // By its own clock the message would be two hours old, past WeCom:ReplayMaxAge (30 min), and not run.
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        using (var client = relay.CreateClient())
        {
            using var response = await SendAsync(client, "alice", "status");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await AssertReplayedOnceAfterConnectAsync(api, relay, new ShiftedClock(TimeSpan.FromHours(2)));
        Assert.DoesNotContain("offline", Assert.Single(SentTexts(api)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X-Relay-Replayed-At")]
    [InlineData("X-Relay-Time-Checked")]
    public async Task RelayTimeHeader_FromOutsideTheTunnel_DoesNotBypassTheClockCheck(string header)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var relay = await RelayServer.StartAsync(AllowEgressTo(api));
        await using var appliance = await TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, WeComSettings(api));
        var direct = appliance.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://127.0.0.1", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = new Uri(direct) };

        var old = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var plain = $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[alice]]></FromUserName><CreateTime>{old}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[help]]></Content><MsgId>42</MsgId><AgentID>1000002</AgentID></xml>";
        var encrypt = Crypto.Encrypt(plain);
        var signature = Crypto.Signature(old, "1", encrypt);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/wecom/callback?msg_signature={signature}&timestamp={old}&nonce=1")
        {
            Content = new StringContent($"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>", Encoding.UTF8, "text/xml"),
        };
        request.Headers.Add(header, old);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, appliance.Services.GetRequiredService<Dispatcher>().Executions);
    }
}
