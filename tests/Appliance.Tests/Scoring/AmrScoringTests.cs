using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;

namespace Appliance.Tests.Scoring;

/// <summary>WeCom voice (AMR) through real ffmpeg into PCM, by POST /api/ratings and by 练习/practice in WeCom chat.</summary>
[Collection(TimingSensitive.Name)]
public sealed class AmrScoringTests
{
    /// <summary>
    /// A real AMR-NB file: a 440 Hz sine, 2 s by default, 12.2 kbit/s. Debian's ffmpeg has no AMR encoder, so GStreamer's amrnbenc
    /// (libopencore-amrnb, tests/lanes/scoring.apt) encodes it; it writes bare frames, so the "#!AMR\n" header is added here.
    /// </summary>
    internal static async Task<byte[]> AmrSineAsync(int seconds = 2)
    {
        var amr = await AmrSineAsync(seconds, "MR122");
        Assert.Equal(6 + (seconds * 50 * 32), amr.Length); // 50 frames of 20 ms a second, 32 bytes each at 12.2k
        return amr;
    }

    /// <summary>The sine encoded in amrnbenc's <paramref name="bandMode"/> (MR475 … MR122, or MRDTX: SID and NO_DATA frames), with the "#!AMR\n" header.</summary>
    internal static async Task<byte[]> AmrSineAsync(int seconds, string bandMode)
    {
        var path = Path.Combine(Path.GetTempPath(), $"sine-{Guid.NewGuid():N}.amr");
        var start = new ProcessStartInfo("gst-launch-1.0") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in $"-q audiotestsrc wave=sine freq=440 num-buffers={seconds * 8} samplesperbuffer=1000 ! audio/x-raw,rate=8000,channels=1 ! audioconvert ! amrnbenc band-mode={bandMode} ! filesink".Split(' '))
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add($"location={path}");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("gst-launch-1.0 did not start (install tests/lanes/scoring.apt)");
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"gst-launch-1.0 failed: {errors}");
        var frames = await File.ReadAllBytesAsync(path);
        File.Delete(path);
        return [.. "#!AMR\n"u8, .. frames];
    }

    private static string[] Settings(TestScorer scorer, FakeWeComServer api) =>
    [
        .. WeComCallbackClient.Settings(api),
        $"--Scoring:ScorerUrl={scorer.Url}", "--Scoring:MediaSource=wecom",
        $"--Scoring:AppId={TestScorer.AppId}", $"--Scoring:Secret={TestScorer.Secret}",
    ];

    private static int ZeroCrossings(byte[] pcm)
    {
        var crossings = 0;
        var previous = BinaryPrimitives.ReadInt16LittleEndian(pcm);
        for (var i = 2; i + 1 < pcm.Length; i += 2)
        {
            var sample = BinaryPrimitives.ReadInt16LittleEndian(pcm.AsSpan(i));
            if ((previous < 0) != (sample < 0))
            {
                crossings++;
            }

            previous = sample;
        }

        return crossings;
    }

    [Fact]
    public async Task Amr_ThroughRatings_TranscodedToPcm16kAndMetaAdjustedAndResigned()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("amr-1", await AmrSineAsync(), "audio/amr");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));
        var meta = ScoringTests.Base64Meta("""{"item":{"audioFormat":"speex","audioSamplerate":16000,"quality":7,"reftext":"hello","type":"readaloud"},"appID":"x"}""");

        using var response = await server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = "amr-1", ["meta"] = meta }.ToJsonString(), Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Equal(0, json.GetProperty("status").GetInt32());
        var session = Assert.Single(scorer.Sessions);
        Assert.Empty(session.ProtocolErrors);
        Assert.True(session.SignatureValid);
        var item = session.Meta!["item"]!;
        Assert.Equal(-1, item["quality"]!.GetValue<int>());
        Assert.Equal("pcm", item["audioFormat"]!.GetValue<string>());
        Assert.Equal(16000, item["audioSamplerate"]!.GetValue<int>());
        Assert.Equal(1, item["audioChannel"]!.GetValue<int>());
        Assert.Equal("hello", item["reftext"]!.GetValue<string>());
        Assert.True(session.SawEos);
        Assert.InRange(session.PcmBytes, 62_000, 66_000); // 2 s × 16000 × 2 bytes
        Assert.True(session.AudioMessages > 5, "PCM goes out in chunks while ffmpeg decodes, not as one message");

        // A 440 Hz tone crosses zero 880 times a second: the decoded audio really is the sine, at 16 kHz.
        Assert.InRange(ZeroCrossings(session.Pcm.ToArray()), 1600, 1920);
    }

    /// <summary>
    /// A voice longer than ffmpeg's output pipe holds (10 s is 320 KB of PCM against 64 KB): when the scorer answers or
    /// closes early, nothing reads ffmpeg any more, so it must be stopped rather than waited for until the timeout.
    /// </summary>
    [Theory]
    [InlineData(ScorerBehavior.RefuseAfterMeta, "{\"status\":-31,\"msg\":\"refused by the test scorer\",\"result\":\"\"}")]
    [InlineData(ScorerBehavior.CloseAfterMeta, "without an answer")]
    public async Task Amr_LongVoiceScorerEndsEarly_AnsweredAtOnceNotAfterTheTimeout(ScorerBehavior behavior, string expected)
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = behavior;
        scorer.ErrorStatus = -31;
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("long", await AmrSineAsync(seconds: 10), "audio/amr");
        await using var server = await ApplianceServer.StartAsync([.. Settings(scorer, api), "--Scoring:ScoringTimeout=00:00:20"]);

        var watch = Stopwatch.StartNew();
        using var response = await server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = "long", ["meta"] = ScoringTests.Base64Meta("{\"item\":{}}") }.ToJsonString(), Encoding.UTF8, "application/json"));
        var raw = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync());
        var elapsed = watch.Elapsed;

        if (behavior == ScorerBehavior.RefuseAfterMeta)
        {
            Assert.Equal(expected, raw);
        }
        else
        {
            var json = JsonDocument.Parse(raw).RootElement;
            Assert.Equal(-100, json.GetProperty("status").GetInt32());
            Assert.Contains(expected, json.GetProperty("msg").GetString(), StringComparison.Ordinal);
        }

        Assert.True(elapsed < TimeSpan.FromSeconds(8), $"answered after {elapsed.TotalSeconds:0.0} s (the scoring timeout is 20 s)");
        Assert.Equal(0, server.GetRequiredService<Appliance.Scoring.RatingService>().InFlight);
    }

    [Fact]
    public async Task Amr_ClientLeavesWhileTheDownloadStalls_FfmpegAndTheScorerConnectionAreStopped()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("slow", await AmrSineAsync(seconds: 10), "audio/amr");
        api.StalledMedia.Add("slow");
        await using var server = await ApplianceServer.StartAsync([.. Settings(scorer, api), "--Scoring:DownloadTimeout=00:01:00"]);
        var ratings = server.GetRequiredService<Appliance.Scoring.RatingService>();

        using var leave = new CancellationTokenSource();
        var post = server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = "slow", ["meta"] = ScoringTests.Base64Meta("{\"item\":{}}") }.ToJsonString(), Encoding.UTF8, "application/json"), leave.Token);
        await WaitForAsync(() => AmrTranscoders().Count == 1 && scorer.SessionCount == 1, "ffmpeg and the scorer connection to start");
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => post);

        await WaitForAsync(() => AmrTranscoders().Count == 0, "ffmpeg to be stopped");
        await scorer.Sessions.Single().Ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(scorer.Sessions.Single().SawEos, "the half voice was scored");
        await WaitForAsync(() => ratings.InFlight == 0, "the rating to end");
    }

    /// <summary>This process's ffmpeg children decoding AMR (the transcoder's command line).</summary>
    private static List<int> AmrTranscoders()
    {
        var mine = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit)).Select(int.Parse!).Where(pid =>
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var parent = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
                return parent == mine && File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains("-f amr -i pipe:0", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        })];
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), $"waited 10 s for {what}");
    }

    [Fact]
    public async Task Amr_NotAmrBytes_Minus100AndScorerUntouched()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("photo", [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8], "image/jpeg");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));

        using var response = await server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = "photo", ["meta"] = ScoringTests.Base64Meta("{\"item\":{}}") }.ToJsonString(), Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Equal(-100, json.GetProperty("status").GetInt32());
        Assert.Contains("not AMR", json.GetProperty("msg").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, scorer.SessionCount);
    }

    /// <summary>
    /// A real clip damaged behind its right #!AMR header: refused with where it is damaged (-100, like "not AMR"), and
    /// the scorer is never asked to score it (no EOS; damage in the first frame is refused before ffmpeg gets any
    /// audio, so the scorer is not even contacted). The intact clip still scores on the same appliance.
    /// </summary>
    [Theory]
    [InlineData("first header", "frame 1 at byte 6: header 0xFF has the P bit set")]
    [InlineData("reserved type", "frame 51 at byte 1606: reserved frame type 12")]
    [InlineData("truncated", "frame 100 at byte 3174: cut short, 22 of its 32 bytes")]
    public async Task Amr_DamagedAfterTheHeader_Minus100SaysDamagedAndNotScored(string damage, string where)
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        var intact = await AmrSineAsync(); // 100 frames of 32 bytes (header 0x3C) from byte 6
        byte[] damaged = damage switch
        {
            "first header" => [.. intact[..6], 0xFF, .. intact[7..]],
            "reserved type" => [.. intact[..1606], 0x64, .. intact[1607..]],
            _ => intact[..^10],
        };
        api.AddMedia("damaged", damaged, "audio/amr");
        api.AddMedia("intact", intact, "audio/amr");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));

        var refused = await RateAsync(server, "damaged");

        Assert.Equal(-100, refused.GetProperty("status").GetInt32());
        Assert.Equal($"the AMR voice is damaged ({where})", refused.GetProperty("msg").GetString());
        foreach (var session in scorer.Sessions)
        {
            await session.Ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(session.SawEos, "the damaged voice was scored");
        }

        if (damage == "first header")
        {
            Assert.Equal(0, scorer.SessionCount);
        }

        var scored = await RateAsync(server, "intact");
        Assert.Equal(0, scored.GetProperty("status").GetInt32());
        var intactSession = Assert.Single(scorer.Sessions, s => s.SawEos);
        Assert.InRange(intactSession.PcmBytes, 62_000, 66_000);
        Assert.Equal(0, server.GetRequiredService<Appliance.Scoring.RatingService>().InFlight);
    }

    private static async Task<JsonElement> RateAsync(ApplianceServer server, string mediaId)
    {
        using var response = await server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = mediaId, ["meta"] = ScoringTests.Base64Meta("{\"item\":{}}") }.ToJsonString(), Encoding.UTF8, "application/json"));
        return JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;
    }

    [Fact]
    public async Task Amr_UnknownMediaId_Minus100WithWeComsError()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));

        using var response = await server.CreateClient().PostAsync("/api/ratings", new StringContent(
            new JsonObject { ["mediaId"] = "nope", ["meta"] = ScoringTests.Base64Meta("{\"item\":{}}") }.ToJsonString(), Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync()).RootElement;

        Assert.Equal(-100, json.GetProperty("status").GetInt32());
        Assert.Contains("40007", json.GetProperty("msg").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, scorer.SessionCount);
    }

    [Fact]
    public async Task Practice_ThenVoice_ScoredWithReferenceTextAndAnsweredWithScoresAndWeakestWords()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("voice-from-alice", await AmrSineAsync(), "audio/amr");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));
        var client = WeComCallbackClient.For(server);

        var set = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "练习 The quick brown fox", WeComCallbackClient.NextMsgId())));
        Assert.Contains("The quick brown fox", set["Content"], StringComparison.Ordinal);

        var voiceXml = VoiceXml("alice", "voice-from-alice");
        var answer = await VoiceAnswerAsync(client, api, voiceXml, "Overall");

        var session = Assert.Single(scorer.Sessions);
        Assert.True(session.SignatureValid);
        Assert.Equal("The quick brown fox", session.Meta!["item"]!["reftext"]!.GetValue<string>());
        Assert.Equal(-1, session.Meta["item"]!["quality"]!.GetValue<int>());
        Assert.InRange(session.PcmBytes, 62_000, 66_000);
        Assert.Contains("Overall: 81.5", answer, StringComparison.Ordinal);
        Assert.Contains("Pronunciation: 78", answer, StringComparison.Ordinal);
        Assert.Contains("Fluency: 90", answer, StringComparison.Ordinal);
        Assert.Contains("Integrity: 100", answer, StringComparison.Ordinal);
        Assert.Contains("quick (41), fox (52.5), jumps (60)", answer, StringComparison.Ordinal);

        // The reference text is used up: the next voice gets the usual answer, and the scorer sees nothing more.
        var again = await client.ReadReplyAsync(await client.PostAsync(voiceXml.Replace("<MsgId>", "<MsgId>9", StringComparison.Ordinal)));
        Assert.Contains("text commands", again["Content"], StringComparison.Ordinal);
        Assert.Single(scorer.Sessions);
    }

    [Fact]
    public async Task Practice_VoiceNotScored_TextKeptSoTheNextVoiceIsScored()
    {
        await using var scorer = await TestScorer.StartAsync();
        scorer.Behavior = ScorerBehavior.RefuseAfterMeta;
        scorer.ErrorStatus = -31;
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("voice-from-alice", await AmrSineAsync(), "audio/amr");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));
        var client = WeComCallbackClient.For(server);
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "练习 The quick brown fox", WeComCallbackClient.NextMsgId())));

        var refused = await VoiceAnswerAsync(client, api, VoiceXml("alice", "voice-from-alice"), "kept");
        Assert.Contains("Scoring failed (status -31)", refused, StringComparison.Ordinal);

        scorer.Behavior = ScorerBehavior.Answer;
        var scored = await VoiceAnswerAsync(client, api, VoiceXml("alice", "voice-from-alice"), "Overall");
        Assert.Contains("Overall: 81.5", scored, StringComparison.Ordinal);
        Assert.Equal("The quick brown fox", scorer.Sessions.Last().Meta!["item"]!["reftext"]!.GetValue<string>());
    }

    [Fact]
    public async Task Practice_DamagedVoice_ToldItIsDamagedAndTextKept()
    {
        await using var scorer = await TestScorer.StartAsync();
        await using var api = await FakeWeComServer.StartAsync();
        var intact = await AmrSineAsync();
        api.AddMedia("cut-voice", intact[..^10], "audio/amr");
        api.AddMedia("voice-from-alice", intact, "audio/amr");
        await using var server = await ApplianceServer.StartAsync(Settings(scorer, api));
        var client = WeComCallbackClient.For(server);
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "练习 The quick brown fox", WeComCallbackClient.NextMsgId())));

        var refused = await VoiceAnswerAsync(client, api, VoiceXml("alice", "cut-voice"), "kept");
        Assert.Contains("Scoring failed (status -100): the AMR voice is damaged (frame 100 at byte 3174: cut short, 22 of its 32 bytes)", refused, StringComparison.Ordinal);
        Assert.DoesNotContain(scorer.Sessions, s => s.SawEos);

        var scored = await VoiceAnswerAsync(client, api, VoiceXml("alice", "voice-from-alice"), "Overall");
        Assert.Contains("Overall: 81.5", scored, StringComparison.Ordinal);
        Assert.Equal("The quick brown fox", Assert.Single(scorer.Sessions, s => s.SawEos).Meta!["item"]!["reftext"]!.GetValue<string>());
    }

    private static string VoiceXml(string from, string mediaId) =>
        $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}</CreateTime><MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[{mediaId}]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>{WeComCallbackClient.NextMsgId()}</MsgId><AgentID>{WeComCallbackClient.AgentId}</AgentID></xml>";

    /// <summary>The answer to a voice message: the passive reply, or (when slower than the budget) the message/send text containing <paramref name="marker"/>.</summary>
    private static async Task<string> VoiceAnswerAsync(WeComCallbackClient client, FakeWeComServer api, string voiceXml, string marker)
    {
        using var response = await client.PostAsync(voiceXml);
        if ((await response.Content.ReadAsStringAsync()).Length > 0)
        {
            return (await client.ReadReplyAsync(response))["Content"];
        }

        Assert.True(await FakeWeComServer.EventuallyAsync(() => Sent(api).Any(c => c.Contains(marker, StringComparison.Ordinal)), TimeSpan.FromSeconds(15)));
        return Sent(api).Last(c => c.Contains(marker, StringComparison.Ordinal));

        static IEnumerable<string> Sent(FakeWeComServer api) =>
            api.CallsTo("message/send").Select(FakeWeComServer.Json).Where(j => j.TryGetProperty("text", out _)).Select(j => j.GetProperty("text").GetProperty("content").GetString()!);
    }
}
