using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Scoring;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Scoring;

/// <summary>POST /api/ratings end to end: the appliance on Kestrel, a fake WeChat and a real WebSocket scorer on loopback.</summary>
[Collection(TimingSensitive.Name)]
public sealed class ScoringTests
{
    private static readonly string ClientMeta = Base64Meta("""{"item":{"audioChannel":1,"audioFormat":"speex","audioSamplerate":16000,"quality":7,"reftext":"hello quick brown fox","type":"readaloud"},"appID":"client-chose-this","salt":"1:00000000"}""", ";hash=forged0123456789");

    internal static string Base64Meta(string json, string suffix = "") => Convert.ToBase64String(Encoding.UTF8.GetBytes(json + suffix));

    internal static string[] Settings(TestScorer scorer, FakeWeComServer wechat, bool sign = true, params string[] extra) =>
    [
        $"--Scoring:ScorerUrl={scorer.Url}", $"--Scoring:WeChatApiBaseUrl={wechat.BaseAddress}",
        $"--Scoring:OfficialAppId={FakeWeComServer.AppId}", $"--Scoring:OfficialAppSecret={FakeWeComServer.AppSecret}",
        .. sign ? (string[])[$"--Scoring:AppId={TestScorer.AppId}", $"--Scoring:Secret={TestScorer.Secret}"] : [],
        .. extra,
    ];

    private static StringContent Body(string mediaId, string meta, string? accessToken = null)
    {
        var body = new JsonObject { ["mediaId"] = mediaId, ["meta"] = meta };
        if (accessToken is not null)
        {
            body["accessToken"] = accessToken;
        }

        return new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
    }

    private static async Task<(HttpStatusCode Status, JsonElement Json, byte[] Raw)> PostAsync(HttpClient client, HttpContent content)
    {
        using var response = await client.PostAsync("/api/ratings", content);
        var raw = await response.Content.ReadAsByteArrayAsync();
        return (response.StatusCode, JsonDocument.Parse(raw).RootElement.Clone(), raw);
    }

    private static void AssertError(JsonElement json, int status, string messagePart)
    {
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.Contains(messagePart, json.GetProperty("msg").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, json.GetProperty("flag").GetInt32());
    }

    [Fact]
    public async Task Speex_Signed_StreamsFramesInOrderResignsMetaAndAnswersVerbatim()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        var clip = FakeWeComServer.SpeexClip(350); // 7 s
        wechat.Voices["voice-1"] = new FakeVoice(clip);
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, _, raw) = await PostAsync(server.CreateClient(), Body("voice-1", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(TestScorer.AnswerJson(350), raw);
        var session = Assert.Single(scorer.Sessions);
        Assert.Empty(session.ProtocolErrors);
        Assert.Equal("1", session.FromWeChatHeader);
        Assert.True(session.SignatureValid);
        Assert.Equal(TestScorer.AppId, session.Meta!["appID"]!.GetValue<string>());
        Assert.Matches("^[0-9]+:[0-9a-f]{8}$", session.Meta["salt"]!.GetValue<string>());
        Assert.Equal("hello quick brown fox", session.Meta["item"]!["reftext"]!.GetValue<string>());
        Assert.True(session.SawEos);
        Assert.Equal(350, session.SpeexFrames.Count);
        Assert.Equal(clip, session.SpeexFrames.SelectMany(f => f).ToArray());
        Assert.Single(wechat.Calls, c => c.Api == "stable_token");
        Assert.Contains("\"force_refresh\":false", Encoding.UTF8.GetString(wechat.CallsTo("stable_token").First().Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Speex_OneFramePerMessage_EveryMessageIsOneFrame()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(50));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, "--Scoring:CoalesceFrames=false"));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, json.GetProperty("status").GetInt32());
        var session = Assert.Single(scorer.Sessions);
        Assert.Equal(50, session.AudioMessages);
        Assert.Equal(50, session.SpeexFrames.Count);
    }

    [Fact]
    public async Task Speex_NoSecretConfigured_ForwardsClientMetaByteForByte()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(10));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, sign: false));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        // The forged hash reaches the scorer unchanged, which refuses it (-20); the proxy passes that on verbatim.
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(-20, json.GetProperty("status").GetInt32());
        var session = Assert.Single(scorer.Sessions);
        Assert.Equal(ClientMeta, session.MetaBase64);
        Assert.False(session.SignatureValid);
    }

    [Theory]
    [InlineData("not base64 at all!")]
    [InlineData("e30K!!")]
    [InlineData("bm8gYnJhY2VzIGhlcmU=")] // "no braces here"
    public async Task Meta_NotBase64Json_400BadParamsAndScorerUntouched(string meta)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(10));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("v", meta));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(json, -1, "meta");
        Assert.Equal(0, scorer.SessionCount);
        Assert.Empty(wechat.CallsTo("media/get/jssdk"));
    }

    [Theory]
    [InlineData("body-over-64k", false)]
    [InlineData("body-over-64k", true)]
    [InlineData("media-id-over-512", false)]
    [InlineData("meta-over-32k", false)]
    public async Task Request_OverItsLimits_400BadParamsAndNothingFetched(string what, bool chunked)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));
        var body = what switch
        {
            "body-over-64k" => new JsonObject { ["mediaId"] = "v", ["meta"] = ClientMeta, ["padding"] = new string('x', 64 * 1024) }.ToJsonString(),
            "media-id-over-512" => new JsonObject { ["mediaId"] = new string('m', 513), ["meta"] = ClientMeta }.ToJsonString(),
            _ => new JsonObject { ["mediaId"] = "v", ["meta"] = Base64Meta("{\"item\":{\"reftext\":\"" + new string('a', 25 * 1024) + "\"}}") }.ToJsonString(),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/ratings") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TransferEncodingChunked = chunked;

        using var response = await server.CreateClient().SendAsync(request);
        var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertError(json, -1, what == "meta-over-32k" ? "longer than 32768" : "the body must be JSON");
        Assert.Empty(wechat.CallsTo("media/get/jssdk"));
        Assert.Empty(scorer.Sessions);
    }

    [Fact]
    public async Task Ratings_ScoringNotConfigured_503NoCompute()
    {
        await using var server = await ApplianceServer.StartAsync();

        using var response = await server.CreateClient().PostAsync("/api/ratings", Body("v", ClientMeta));
        var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        AssertError(json, -99, "Scoring:ScorerUrl");
    }

    [Theory]
    [InlineData("""{"item":{"reftext":"a"},"item":{"reftext":"b"}}""")]
    [InlineData("""{"appID":"a","appID":"b","item":{}}""")]
    [InlineData("""{"item":{"type":"readaloud","type":"word"}}""")]
    public async Task Meta_DuplicateKey_400BadParamsAndScorerUntouched(string json)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(10));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, body, _) = await PostAsync(server.CreateClient(), Body("v", Base64Meta(json)));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, -1, "meta is not JSON");
        Assert.Contains("duplicate", body.GetProperty("msg").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, scorer.SessionCount);
        Assert.Empty(wechat.CallsTo("media/get/jssdk"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("{\"meta\":\"e30=\"}")]
    [InlineData("not json")]
    public async Task Body_Malformed_400BadParams(string body)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, json, _) = await PostAsync(server.CreateClient(), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(json, -1, "mediaId");
    }

    [Fact]
    public async Task Download_UnknownMediaId_Minus100WithWeChatsErrorAndScorerUntouched()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("no-such-media", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        AssertError(json, -100, "40007");
        Assert.Equal(0, scorer.SessionCount);
    }

    [Fact]
    public async Task Download_EmptyVoice_Minus100AndScorerUntouched()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["empty"] = new FakeVoice([]);
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("empty", ClientMeta));

        AssertError(json, -100, "empty");
        Assert.Equal(0, scorer.SessionCount);
    }

    [Fact]
    public async Task Download_HugeVoiceAnnounced_Minus100BeforeTheScorer()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["huge"] = new FakeVoice(FakeWeComServer.SpeexClip(40_000)); // 2.4 MB
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("huge", ClientMeta));

        AssertError(json, -100, "MaxAudioBytes");
        Assert.Equal(0, scorer.SessionCount);
    }

    [Fact]
    public async Task Download_HugeVoiceChunked_StopsAtTheCapAndAbortsTheScorerWithoutEos()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["huge"] = new FakeVoice(FakeWeComServer.SpeexClip(40_000), Chunked: true);
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("huge", ClientMeta));

        AssertError(json, -100, "MaxAudioBytes");
        var session = Assert.Single(scorer.Sessions);
        await session.Ended.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(session.SawEos);
        Assert.True(session.Aborted);
        Assert.True(session.SpeexFrames.Count * 60 <= 1024 * 1024);
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("image/jpeg")]
    public async Task Download_NonAudioContentType_Minus100(string contentType)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["page"] = new FakeVoice(Encoding.UTF8.GetBytes("<html>login</html>"), contentType);
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("page", ClientMeta));

        AssertError(json, -100, "not voice");
        Assert.Equal(0, scorer.SessionCount);
    }

    [Fact]
    public async Task Download_Slow_Minus100AfterTheDownloadTimeout()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["slow"] = new FakeVoice(FakeWeComServer.SpeexClip(10), Delay: TimeSpan.FromSeconds(20));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, "--Scoring:DownloadTimeout=00:00:01"));

        var watch = Stopwatch.StartNew();
        var (_, json, _) = await PostAsync(server.CreateClient(), Body("slow", ClientMeta));

        AssertError(json, -100, "did not finish within 1 s");
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Token_RejectedByWeChat_RefetchedOnceAndDownloadSucceeds()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));
        var client = server.CreateClient();
        Assert.Equal(0, (await PostAsync(client, Body("v", ClientMeta))).Json.GetProperty("status").GetInt32());

        wechat.InvalidateAllTokens();
        var (_, json, _) = await PostAsync(client, Body("v", ClientMeta));

        Assert.Equal(0, json.GetProperty("status").GetInt32());
        Assert.Equal(2, wechat.CallsTo("stable_token").Count());
        Assert.Equal(3, wechat.CallsTo("media/get/jssdk").Count());
    }

    [Fact]
    public async Task Token_UseStableTokenFalse_FetchedFromCgiBinTokenAndDownloadSucceeds()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, "--Scoring:UseStableToken=false"));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, json.GetProperty("status").GetInt32());
        Assert.Empty(wechat.CallsTo("stable_token"));
        var call = Assert.Single(wechat.Calls, c => c.Api == "token");
        Assert.Equal($"?grant_type=client_credential&appid={FakeWeComServer.AppId}&secret={FakeWeComServer.AppSecret}", call.RawQuery);
        Assert.Single(scorer.Sessions);
    }

    [Fact]
    public async Task Token_UseStableTokenFalseWrongSecret_ClearErrorWithoutTheSecret()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        string[] settings = [.. Settings(scorer, wechat, true, "--Scoring:UseStableToken=false"), "--Scoring:OfficialAppSecret=not-the-secret"];
        await using var server = await ApplianceServer.StartAsync(settings);

        var (_, json, raw) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        Assert.Equal(-100, json.GetProperty("status").GetInt32());
        Assert.Contains("token answered 40125", json.GetProperty("msg").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", Encoding.UTF8.GetString(raw), StringComparison.Ordinal);
        Assert.Empty(wechat.CallsTo("media/get/jssdk"));
        Assert.Empty(scorer.Sessions);
    }

    [Theory]
    [InlineData("""{"access_token":12,"expires_in":"7200"}""", "answered without access_token")]
    [InlineData("""{"errcode":40013,"errmsg":5}""", "answered 40013")]
    [InlineData("""{"errcode":1e99}""", "answered 1e99")]
    [InlineData("""[1,2]""", "answered Array, not a JSON object")]
    [InlineData("""{"access_token":"tok","expires_in":{"s":1}}""", "40001")]
    public async Task WeChatToken_OddAnswer_Minus100SayingWhatCameNot500(string answer, string expected)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        for (var i = 0; i < 4; i++)
        {
            wechat.AnswerNext("stable_token", 200, answer, "application/json; encoding=utf-8"); // an odd answer is taken as passing: the first try and three retries
        }

        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        AssertError(json, -100, expected);
        Assert.Empty(scorer.Sessions);
    }

    [Fact]
    public async Task Scorer_NeverAnswers_Minus100AfterTheScoringTimeout()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.Stall;
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(20));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, "--Scoring:ScoringTimeout=00:00:01.5"));

        var watch = Stopwatch.StartNew();
        var (_, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        AssertError(json, -100, "did not answer within 1.5 s");
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(6));
        Assert.Equal(0, server.GetRequiredService<RatingService>().InFlight);
    }

    [Fact]
    public async Task Scorer_ClosesEarly_Minus100SaysSo()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.CloseAfterMeta;
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(350));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        AssertError(json, -100, "without an answer");
    }

    [Fact]
    public async Task Scorer_RefusesAfterMeta_ItsAnswerVerbatimAndUploadStops()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.RefuseAfterMeta;
        scorer.ErrorStatus = -31;
        await using var wechat = await FakeWeComServer.StartAsync();
        // Paced over about 1.2 s, so the refusal arrives while most of the voice is still to come.
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(350), ChunkDelay: TimeSpan.FromMilliseconds(50));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (status, _, raw) = await PostAsync(server.CreateClient(), Body("v", ClientMeta));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"status\":-31,\"msg\":\"refused by the test scorer\",\"result\":\"\"}", Encoding.UTF8.GetString(raw));
        var session = Assert.Single(scorer.Sessions);
        await session.Ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(session.SawEos, "the upload went on to the end after the refusal");
        Assert.True(session.SpeexFrames.Count < 350, $"{session.SpeexFrames.Count} of 350 frames were sent after the refusal");
    }

    [Fact]
    public async Task Concurrency_OverTheLimit_503BusyWithRetryAfter()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.Stall;
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(10));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, "--Scoring:MaxConcurrent=1", "--Scoring:ScoringTimeout=00:00:05"));
        var ratings = server.GetRequiredService<RatingService>();
        var first = server.CreateClient().PostAsync("/api/ratings", Body("v", ClientMeta));
        Assert.True(await EventuallyAsync(() => ratings.InFlight == 1));

        using var second = await server.CreateClient().PostAsync("/api/ratings", Body("v", ClientMeta));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal("2", second.Headers.GetValues("Retry-After").Single());
        AssertError(JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement, -40, "busy");
        (await first).Dispose();
    }

    [Fact]
    public async Task Client_GoesAway_ScorerConnectionAbortedAndSlotFreed()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.Stall;
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(10));
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));
        var ratings = server.GetRequiredService<RatingService>();
        using var cancel = new CancellationTokenSource();
        var client = server.CreateClient();
        var request = client.PostAsync("/api/ratings", Body("v", ClientMeta), cancel.Token);
        Assert.True(await EventuallyAsync(() => scorer.Sessions.TryPeek(out var s) && s.SawEos));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        Assert.True(await EventuallyAsync(() => ratings.InFlight == 0));
        var session = Assert.Single(scorer.Sessions);
        await session.Ended.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, ratings.Completed + ratings.Failed);
    }

    [Fact]
    public async Task AccessToken_FromLoopbackAdmin_UsedInsteadOfOwnToken()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        wechat.ExtraTokens["callers-token"] = 0;
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, wechat));

        var (_, json, _) = await PostAsync(server.CreateClient(), Body("v", ClientMeta, "callers-token"));

        Assert.Equal(0, json.GetProperty("status").GetInt32());
        Assert.Equal("callers-token", Assert.Single(wechat.CallsTo("media/get/jssdk")).Query["access_token"]);
        Assert.Empty(wechat.CallsTo("stable_token"));
    }

    [Fact]
    public async Task Auth_ViewLinkHolder_RefusedByDefault_AllowedWithAllowViewersButNotWithAccessToken()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var wechat = await FakeWeComServer.StartAsync();
        wechat.Voices["v"] = new FakeVoice(FakeWeComServer.SpeexClip(5));
        string[] auth = ["--Web:TrustLoopback=false", "--Web:Password=family-secret"];
        await using (var strict = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, auth)))
        {
            var link = strict.GetRequiredService<LinkSigner>().Sign("/api/ratings", TimeSpan.FromMinutes(5));
            using var anonymous = await strict.CreateClient().PostAsync("/api/ratings", Body("v", ClientMeta));
            using var viewer = await strict.CreateClient().PostAsync(link, Body("v", ClientMeta));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);
            Assert.Equal(0, scorer.SessionCount);
        }

        await using var open = await ApplianceServer.StartAsync(Settings(scorer, wechat, true, [.. auth, "--Scoring:AllowViewers=true"]));
        var viewerLink = open.GetRequiredService<LinkSigner>().Sign("/api/ratings", TimeSpan.FromMinutes(5));
        using var anonymousWithToken = await open.CreateClient().PostAsync("/api/ratings", Body("v", ClientMeta, "someone-elses-token"));
        var (viewerStatus, viewerJson, _) = await PostWithLinkAsync(open, viewerLink, Body("v", ClientMeta));
        var (tokenStatus, tokenJson, _) = await PostWithLinkAsync(open, viewerLink, Body("v", ClientMeta, "someone-elses-token"));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymousWithToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viewerStatus);
        Assert.Equal(0, viewerJson.GetProperty("status").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, tokenStatus);
        AssertError(tokenJson, -1, "trusted callers");
        Assert.DoesNotContain(wechat.Calls, c => c.Query.Values.Any(v => v.Contains("someone-elses-token", StringComparison.Ordinal)));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Json, byte[] Raw)> PostWithLinkAsync(ApplianceServer server, string link, HttpContent content)
    {
        using var response = await server.CreateClient().PostAsync(link, content);
        var raw = await response.Content.ReadAsByteArrayAsync();
        return (response.StatusCode, JsonDocument.Parse(raw).RootElement.Clone(), raw);
    }

    internal static async Task<bool> EventuallyAsync(Func<bool> condition, double seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(20);
        }

        return condition();
    }
}
