using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Relay.WeCom;

namespace Relay.Tests;

/// <summary>WeCom callbacks through the relay: signature check, live forwarding, store-and-forward across outages and restarts.</summary>
[Collection(TimingSensitive.Name)]
public sealed class CallbackStoreAndForwardTests
{
    [Fact]
    public void Signature_MatchesWeComDefinition()
    {
        // sha1 of the four strings sorted ordinally and concatenated, lowercase hex (wecom.md).
#pragma warning disable CA5350 // the protocol under test is SHA1
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(Encoding.UTF8.GetBytes("1409659813" + "263014780" + "QDG6eK" + "enc")));
#pragma warning restore CA5350
        Assert.Equal(expected, CallbackSignature.Compute("QDG6eK", "1409659813", "263014780", "enc"));
        Assert.True(CallbackSignature.Verify("QDG6eK", expected.ToUpperInvariant(), "1409659813", "263014780", "enc"));
        Assert.False(CallbackSignature.Verify("QDG6eK", expected, "1409659814", "263014780", "enc"));
    }

    [Fact]
    public void ReadEncrypt_RefusesDtd()
    {
        var evil = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&e;</Encrypt></xml>";
        Assert.Null(CallbackSignature.ReadEncrypt(Encoding.UTF8.GetBytes(evil)));
        Assert.Equal("abc", CallbackSignature.ReadEncrypt(Encoding.UTF8.GetBytes("<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[abc]]></Encrypt></xml>")));
    }

    [Fact]
    public async Task Callback_BadSignature_Refused()
    {
        await using var relay = await RelayServer.StartAsync();
        using var client = relay.CreateClient();
        using var response = await client.PostAsync(
            "/cam/wecom/callback?msg_signature=0000000000000000000000000000000000000000&timestamp=1&nonce=2",
            new StringContent(Body("m1"), Encoding.UTF8, "text/xml"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Callback_BodyOverMaxCallbackBytes_Refused413AndNotStored(bool announcedLength)
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxCallbackBytes=1024");
        using var client = relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/cam/wecom/callback?msg_signature=0&timestamp=1&nonce=2")
        {
            Content = new StringContent(Body(new string('x', 2000)), Encoding.UTF8, "text/xml"),
        };

        // Without Content-Length (chunked) the relay finds out while reading.
        request.Headers.TransferEncodingChunked = !announcedLength;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("body too large\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
    }

    [Fact]
    public async Task Callback_ApplianceOnline_ForwardedWithItsAnswer()
    {
        await using var relay = await RelayServer.StartAsync();
        var recorder = new CallbackRecorder { Answer = "<xml>reply</xml>" };
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await appliance.WaitConnectedAsync();
        using var client = relay.CreateClient();
        using var response = await PostCallbackAsync(client, "m1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("<xml>reply</xml>", await response.Content.ReadAsStringAsync());
        var received = Assert.Single(recorder.Received);
        Assert.Equal(Body("m1"), received.Body);
        Assert.Equal("", received.ReplayedAt);
    }

    [Fact]
    public async Task Callback_ApplianceTooSlow_Answered200EmptyThenReplayed()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:CallbackTimeout=00:00:01");
        var recorder = new CallbackRecorder { Delay = TimeSpan.FromSeconds(2), Answer = "late" };
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await appliance.WaitConnectedAsync();
        using var client = relay.CreateClient();
        var stopwatch = Stopwatch.StartNew();
        using var response = await PostCallbackAsync(client, "slow");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(2.5));

        // It is replayed, marked, so the appliance (whose MsgId dedupe absorbs the duplicate) answers via message/send.
        recorder.Delay = TimeSpan.Zero;
        await WaitForAsync(() => recorder.Received.Count >= 2, TimeSpan.FromSeconds(20));
        Assert.NotEqual("", recorder.Received[1].ReplayedAt);
        Assert.Equal(Body("slow"), recorder.Received[1].Body);
    }

    [Fact]
    public async Task Callbacks_WhileOffline_AnsweredFast_SurviveRelayRestart_ReplayedOnceInOrder()
    {
        await using var relay = await RelayServer.StartAsync();
        using (var client = relay.CreateClient())
        {
            for (var i = 1; i <= 5; i++)
            {
                var stopwatch = Stopwatch.StartNew();
                using var response = await PostCallbackAsync(client, $"msg{i}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("", await response.Content.ReadAsStringAsync());
                Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"answered in {stopwatch.Elapsed}");
            }
        }

        await relay.RestartAsync();
        var recorder = new CallbackRecorder();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await WaitForAsync(() => recorder.Received.Count >= 5, TimeSpan.FromSeconds(20));
        await Task.Delay(6000); // one retry interval: nothing more may arrive
        Assert.Equal(["msg1", "msg2", "msg3", "msg4", "msg5"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        Assert.All(recorder.Received, r => Assert.NotEqual("", r.ReplayedAt));
        Assert.All(recorder.Received, r => Assert.Contains("msg_signature=", r.Query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replay_OneCallbackTheApplianceAlwaysFails_GivenUpAfterMaxAttempts_TheNextStillArrives()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxReplayAttempts=2");
        using (var client = relay.CreateClient())
        {
            foreach (var id in new[] { "poison", "after" })
            {
                using var response = await PostCallbackAsync(client, id);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        var recorder = new CallbackRecorder { StatusFor = body => MsgIdOf(body) == "poison" ? 500 : 200 };
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await WaitForAsync(() => recorder.Received.Any(r => MsgIdOf(r.Body) == "after"), TimeSpan.FromSeconds(20));

        // Tried twice (on reconnect, then at the next retry), then dropped; the one behind it was held until then.
        Assert.Equal(["poison", "poison", "after"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        await Task.Delay(6000); // one retry interval: the dropped one is not tried again
        Assert.Equal(3, recorder.Received.Count);
        Assert.Equal(0, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
    }

    internal static string Body(string id) => $"<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[{id}-encrypted]]></Encrypt><AgentID>1</AgentID></xml>";

    private static string MsgIdOf(string body) => body.Split("<![CDATA[")[2].Split("-encrypted")[0];

    internal static async Task<HttpResponseMessage> PostCallbackAsync(HttpClient client, string id, string path = "/cam/wecom/callback")
    {
        var timestamp = "1700000000";
        var nonce = "n" + id;
        var signature = CallbackSignature.Compute(RelayServer.WeComToken, timestamp, nonce, id + "-encrypted");
        return await client.PostAsync(
            $"{path}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
            new StringContent(Body(id), Encoding.UTF8, "text/xml"));
    }

    internal static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stopwatch.Elapsed < timeout, "timed out waiting");
            await Task.Delay(50);
        }
    }
}
