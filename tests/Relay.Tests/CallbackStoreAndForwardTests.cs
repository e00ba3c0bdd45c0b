using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Relay.Tests.Infrastructure;
using Relay.WeCom;

namespace Relay.Tests;

/// <summary>WeCom callbacks through the relay: signature check, live forwarding, store-and-forward across outages and restarts.</summary>
[Collection(TimingSensitive.Name)]
public sealed class CallbackStoreAndForwardTests
{
    /// <summary>CallbackReplay's retry interval: stored callbacks are tried again at each of its ticks.</summary>
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    /// <summary>The relay answers WeCom itself when the appliance has not within a second.</summary>
    private static readonly string[] OneSecondCallbackTimeout = ["--Relay:CallbackTimeout=00:00:01"];

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
    public async Task Callback_MoreThanMaxStoredCallbacksWhileOffline_TheRestRefused503WithRetryAfter_StoredAgainOnceDrained()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxStoredCallbacks=5");
        using var client = relay.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await PostCallbackAsync(client, $"m{i}");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.Contains("Relay:MaxStoredCallbacks", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), .. Enumerable.Repeat(HttpStatusCode.ServiceUnavailable, 3)], statuses);
        Assert.Equal(5, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));

        // Once the queue drains, callbacks are stored (and forwarded) again.
        var recorder = new CallbackRecorder();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await appliance.WaitConnectedAsync();
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(20));
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], recorder.Received.Select(r => MsgIdOf(r.Body)));
        using var later = await PostCallbackAsync(client, "later");
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        await Eventually.WaitForAsync(() => recorder.Received.Any(r => r.Body == Body("later")), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Callback_OneSignedCallbackPostedAgainAndAgainWhileOffline_StoredOnce_OthersStillStored()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxStoredCallbacks=5");
        using var client = relay.CreateClient();

        // A captured callback posted again within Relay:MaxClockSkew: its signature holds every time, also with what it
        // does not cover changed (other query parameters, the signature's case, the unencrypted fields of the body).
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = CallbackSignature.Compute(RelayServer.WeComToken, timestamp, "n1", "again-encrypted");
        for (var i = 0; i < 8; i++)
        {
            var spelling = i % 2 == 0 ? signature : signature.ToUpperInvariant();
            var body = Body("again").Replace("<AgentID>1</AgentID>", $"<AgentID>{i}</AgentID>", StringComparison.Ordinal);
            using var response = await client.PostAsync(
                $"/cam/wecom/callback?msg_signature={spelling}&timestamp={timestamp}&nonce=n1&x={i}",
                new StringContent(body, Encoding.UTF8, "text/xml"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(1, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
        using (var other = await PostCallbackAsync(client, "other"))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        Assert.Equal(2, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
        var recorder = new CallbackRecorder();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await appliance.WaitConnectedAsync();
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(20));
        Assert.Equal(["again", "other"], recorder.Received.Select(r => MsgIdOf(r.Body)));
    }

    [Fact]
    public void Store_QueueWrittenBeforeSignaturesWereKept_OpensWithItsRowsAndKeepsNewCallbacksOnce()
    {
        var directory = Directory.CreateTempSubdirectory("relay-store-").FullName;
        try
        {
            var path = Path.Combine(directory, "callbacks.db");
            using (var database = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
            {
                // The table as an older relay made it, with one callback waiting.
                database.Open();
                using var create = database.CreateCommand();
                create.CommandText = """
                    CREATE TABLE callbacks(
                      id INTEGER PRIMARY KEY AUTOINCREMENT, appliance TEXT NOT NULL, received_at INTEGER NOT NULL,
                      path_and_query TEXT NOT NULL, content_type TEXT, body BLOB NOT NULL, state INTEGER NOT NULL,
                      attempts INTEGER NOT NULL DEFAULT 0);
                    CREATE INDEX callbacks_by_appliance ON callbacks(appliance, id);
                    INSERT INTO callbacks(appliance, received_at, path_and_query, content_type, body, state) VALUES ('cam', 1, '/wecom/callback?a=1', 'text/xml', x'3c78', 1);
                    """;
                create.ExecuteNonQuery();
            }

            using var store = new CallbackStore(path);
            Assert.Equal("/wecom/callback?a=1", store.Oldest("cam")?.PathAndQuery);
            var first = store.Add("cam", 2, "/wecom/callback?b=1", "text/xml", [1], "sig", live: false, maxStored: 10);
            var again = store.Add("cam", 3, "/wecom/callback?b=1&x=2", "text/xml", [2], "sig", live: false, maxStored: 10);
            Assert.Equal((first!.Value.Id, false, true), again);
            Assert.Equal(2, store.Pending("cam"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Callback_ApplianceOnline_ForwardedWithItsAnswer()
    {
        var recorder = new CallbackRecorder { Answer = "<xml>reply</xml>" };
        await using var tunnelled = await RelayWithAppliance.StartAsync(callbacks: recorder);
        var relay = tunnelled.Relay;
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
        var recorder = new CallbackRecorder { Delay = TimeSpan.FromSeconds(2), Answer = "late" };
        await using var tunnelled = await RelayWithAppliance.StartAsync(OneSecondCallbackTimeout, callbacks: recorder);

        Assert.InRange(await PostSlowCallbackAsync(tunnelled.Relay), TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(2.5));

        // It is replayed, marked, so the appliance (whose MsgId dedupe absorbs the duplicate) answers via message/send.
        await AssertReplayedOnceAnsweredAtOnceAsync(recorder);
    }

    [Fact]
    public async Task Callbacks_WhileOffline_AnsweredFast_SurviveRelayRestart_ReplayedOnceInOrder()
    {
        var clock = RelayClock();
        await using var relay = await RelayServer.StartAsync(clock);
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
        await Eventually.WaitForAsync(() => recorder.Received.Count >= 5, TimeSpan.FromSeconds(20));
        await PastOneRetryAsync(clock); // nothing more may arrive
        Assert.Equal(["msg1", "msg2", "msg3", "msg4", "msg5"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        Assert.All(recorder.Received, r => Assert.NotEqual("", r.ReplayedAt));
        Assert.All(recorder.Received, r => Assert.Contains("msg_signature=", r.Query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replay_OneCallbackTheApplianceAlwaysFails_GivenUpAfterMaxAttempts_TheNextStillArrives()
    {
        var clock = RelayClock();
        await using var relay = await RelayServer.StartAsync(clock, "--Relay:MaxReplayAttempts=2");
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
        await Eventually.WaitForAsync(() => recorder.Received.Count >= 1, TimeSpan.FromSeconds(20));
        clock.Advance(RetryInterval);
        await Eventually.WaitForAsync(() => recorder.Received.Any(r => MsgIdOf(r.Body) == "after"), TimeSpan.FromSeconds(20));

        // Tried twice (on reconnect, then at the next retry), then dropped; the one behind it was held until then.
        Assert.Equal(["poison", "poison", "after"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        await PastOneRetryAsync(clock); // the dropped one is not tried again
        Assert.Equal(3, recorder.Received.Count);
        Assert.Equal(0, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
    }

    [Theory]
    [InlineData(-120)]
    [InlineData(-6)]
    [InlineData(120)]
    public async Task Callback_SignedOutsideMaxClockSkewWhileOffline_Refused403AndNotStored(int minutes)
    {
        // A callback signed long ago and posted again must not be stored: on replay it would run as if new.
        await using var relay = await RelayServer.StartAsync();
        using var client = relay.CreateClient();

        using var response = await PostCallbackAsync(client, "old", signedAt: DateTimeOffset.UtcNow.AddMinutes(minutes));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
    }

    [Fact]
    public async Task Callback_SignedWithinMaxClockSkewWhileOffline_Stored()
    {
        await using var relay = await RelayServer.StartAsync();
        using var client = relay.CreateClient();

        using var response = await PostCallbackAsync(client, "recent", signedAt: DateTimeOffset.UtcNow.AddMinutes(-4));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name));
    }

    [Fact]
    public async Task Callback_ArrivingWhileAnEarlierOneIsInFlight_RunsAfterIt()
    {
        // "first" is in flight (its live answer is a 503 after 1.5 s, so it is replayed); "second" arrives meanwhile
        // and must queue behind it instead of overtaking it live.
        await using var relay = await RelayServer.StartAsync();
        var recorder = new CallbackRecorder();
        int DeliveriesOfFirst() => recorder.Received.Count(r => MsgIdOf(r.Body) == "first");
        recorder.DelayFor = body => MsgIdOf(body) == "first" && DeliveriesOfFirst() == 1 ? TimeSpan.FromSeconds(1.5) : TimeSpan.Zero;
        recorder.StatusFor = body => MsgIdOf(body) == "first" && DeliveriesOfFirst() == 1 ? 503 : 200;
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await appliance.WaitConnectedAsync();
        using var client = relay.CreateClient();

        var first = PostCallbackAsync(client, "first");
        await Eventually.WaitForAsync(() => recorder.Received.Count >= 1, TimeSpan.FromSeconds(10));
        using (var second = await PostCallbackAsync(client, "second"))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        using (var response = await first)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Eventually.WaitForAsync(() => recorder.Received.Count >= 3, TimeSpan.FromSeconds(20));
        Assert.Equal(["first", "first", "second"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        Assert.Equal("", recorder.Received[0].ReplayedAt);
        Assert.NotEqual("", recorder.Received[1].ReplayedAt);
        Assert.NotEqual("", recorder.Received[2].ReplayedAt);
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Callback_ApplianceAnswersEmpty200AfterTheTimeout_NotReplayed()
    {
        // The appliance did take it (it ran the command and answers through message/send): a replay could run it
        // again if the appliance restarted in between, so the relay keeps waiting for the live answer.
        // The relay's timeout and retry ticks run on its clock, so the test moves them instead of waiting for them.
        var clock = RelayClock();
        var applianceAnswers = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var recorder = new CallbackRecorder { AnswerAfter = applianceAnswers.Task, Answer = "" };
        await using var tunnelled = await RelayWithAppliance.StartAsync(OneSecondCallbackTimeout, callbacks: recorder, relayTime: clock);
        var relay = tunnelled.Relay;
        using var client = relay.CreateClient();

        var posted = PostCallbackAsync(client, "slow");
        await Eventually.WaitForAsync(() => recorder.Received.Count >= 1, TimeSpan.FromSeconds(10));
        Assert.False(posted.IsCompleted, "WeCom was answered before Relay:CallbackTimeout");
        await PastCallbackTimeoutAsync(clock, posted);
        using (var response = await posted)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }

        applianceAnswers.SetResult(); // its empty 200, after WeCom had the relay's
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(10));
        await PastOneRetryAsync(clock); // no replay may come
        Assert.Single(recorder.Received);
    }

    [Fact]
    public async Task Callback_ApplianceAnswers503AfterTheTimeout_Replayed()
    {
        var recorder = new CallbackRecorder { Delay = TimeSpan.FromSeconds(2) };
        recorder.StatusFor = _ => recorder.Received.Count == 1 ? 503 : 200;
        await using var tunnelled = await RelayWithAppliance.StartAsync(OneSecondCallbackTimeout, callbacks: recorder);

        await PostSlowCallbackAsync(tunnelled.Relay);

        await AssertReplayedOnceAnsweredAtOnceAsync(recorder);
    }

    /// <summary>
    /// A clock for the relay that starts at the real now (the relay checks the callbacks' signed time against it)
    /// and moves only when the test moves it: its retry ticks come when the test says.
    /// </summary>
    private static FakeTimeProvider RelayClock() => new(DateTimeOffset.UtcNow);

    /// <summary>
    /// Moves the relay's clock past its next retry tick, then gives a replay it would wrongly send there time to
    /// arrive (it goes at once, over loopback).
    /// </summary>
    private static async Task PastOneRetryAsync(FakeTimeProvider clock)
    {
        clock.Advance(RetryInterval);
        await Task.Delay(1000);
    }

    /// <summary>
    /// Moves the relay's clock past <see cref="OneSecondCallbackTimeout"/>, a second at a time until WeCom has its answer
    /// (the relay may start its wait a moment after the appliance got the callback); at most 10 s, well short of the
    /// 30 s after which the relay stops awaiting the appliance's live answer.
    /// </summary>
    private static async Task PastCallbackTimeoutAsync(FakeTimeProvider clock, Task answered)
    {
        for (var second = 0; second < 10 && !answered.IsCompleted; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(answered, Task.Delay(200));
        }
    }

    /// <summary>
    /// Posts the callback "slow" to an appliance slower than <see cref="OneSecondCallbackTimeout"/>: WeCom must be
    /// answered 200 with an empty body (so it does not retry). Returns how long that answer took.
    /// </summary>
    private static async Task<TimeSpan> PostSlowCallbackAsync(RelayServer relay)
    {
        using var client = relay.CreateClient();
        var stopwatch = Stopwatch.StartNew();
        using var response = await PostCallbackAsync(client, "slow");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        return stopwatch.Elapsed;
    }

    /// <summary>Once the appliance answers at once, "slow" arrives again, marked as a replay.</summary>
    private static async Task AssertReplayedOnceAnsweredAtOnceAsync(CallbackRecorder recorder)
    {
        recorder.Delay = TimeSpan.Zero;
        await Eventually.WaitForAsync(() => recorder.Received.Count >= 2, TimeSpan.FromSeconds(20));
        Assert.NotEqual("", recorder.Received[1].ReplayedAt);
        Assert.Equal(Body("slow"), recorder.Received[1].Body);
    }

    [Fact]
    public async Task Replay_RefusedByTheAppliance_DroppedAtOnceWithItsReasonLogged_TheNextStillArrives()
    {
        await using var relay = await RelayServer.StartAsync();
        var logs = new LogLines();
        relay.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        using (var client = relay.CreateClient())
        {
            foreach (var id in new[] { "refused", "after" })
            {
                using var response = await PostCallbackAsync(client, id);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        var recorder = new CallbackRecorder
        {
            StatusFor = body => MsgIdOf(body) == "refused" ? 403 : 200,
            Answer = "rejected: 40001 signature mismatch\n",
        };
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);
        await Eventually.WaitForAsync(() => recorder.Received.Any(r => MsgIdOf(r.Body) == "after"), TimeSpan.FromSeconds(20));

        Assert.Equal(["refused", "after"], recorder.Received.Select(r => MsgIdOf(r.Body)).ToArray());
        Assert.Contains(logs.All, l => l.StartsWith("Warning", StringComparison.Ordinal)
            && l.Contains("refused it with 403 (rejected: 40001 signature mismatch)", StringComparison.Ordinal));
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Replay_OneApplianceHangs_AnotherIsStillDrained()
    {
        await using var relay = await RelayServer.StartAsync(
            $"--Relay:Appliances:cam2:Secret={RelayServer.Secret}", $"--Relay:Appliances:cam2:WeComToken={RelayServer.WeComToken}", "--Relay:AllowSharedOriginPaths=true");
        using (var client = relay.CreateClient())
        {
            using var stuck = await PostCallbackAsync(client, "stuck");
            using var other = await PostCallbackAsync(client, "other", "/cam2/wecom/callback");
            Assert.Equal(HttpStatusCode.OK, stuck.StatusCode);
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        var hanging = new CallbackRecorder { Delay = TimeSpan.FromSeconds(25) };
        await using var cam = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: hanging);
        await Eventually.WaitForAsync(() => hanging.Received.Count >= 1, TimeSpan.FromSeconds(20));
        var recorder = new CallbackRecorder();
        await using var cam2 = await TunnelledAppliance.StartAsync(relay.TunnelUrl, name: "cam2", callbacks: recorder);
        await cam2.WaitConnectedAsync();
        var stopwatch = Stopwatch.StartNew();

        await Eventually.WaitForAsync(() => recorder.Received.Count >= 1, TimeSpan.FromSeconds(20));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"cam2's callback waited {stopwatch.Elapsed} behind cam's");
        Assert.Equal("other", MsgIdOf(recorder.Received[0].Body));
    }

    [Fact]
    public async Task Replay_CutOffByTheTunnelDropping_NotCountedAsAFailedAttempt()
    {
        await using var relay = await RelayServer.StartAsync("--Relay:MaxReplayAttempts=1");
        using (var client = relay.CreateClient())
        {
            using var response = await PostCallbackAsync(client, "m1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var dropping = new CallbackRecorder { Delay = TimeSpan.FromSeconds(30) };
        await using (var flapping = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: dropping))
        {
            await Eventually.WaitForAsync(() => dropping.Received.Count >= 1, TimeSpan.FromSeconds(20));
        }

        var recorder = new CallbackRecorder();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: recorder);

        await Eventually.WaitForAsync(() => recorder.Received.Count >= 1, TimeSpan.FromSeconds(20));
        Assert.Equal("m1", MsgIdOf(recorder.Received[0].Body));
        await Eventually.WaitForAsync(() => relay.Services.GetRequiredService<CallbackRelay>().Pending(RelayServer.Name) == 0, TimeSpan.FromSeconds(5));
    }

    internal static string Body(string id) => $"<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[{id}-encrypted]]></Encrypt><AgentID>1</AgentID></xml>";

    private static string MsgIdOf(string body) => body.Split("<![CDATA[")[2].Split("-encrypted")[0];

    internal static async Task<HttpResponseMessage> PostCallbackAsync(HttpClient client, string id, string path = "/cam/wecom/callback", DateTimeOffset? signedAt = null)
    {
        // Signed now (the relay runs on the real clock): the relay refuses callbacks signed outside Relay:MaxClockSkew.
        var timestamp = (signedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var nonce = "n" + id;
        var signature = CallbackSignature.Compute(RelayServer.WeComToken, timestamp, nonce, id + "-encrypted");
        return await client.PostAsync(
            $"{path}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
            new StringContent(Body(id), Encoding.UTF8, "text/xml"));
    }
}
