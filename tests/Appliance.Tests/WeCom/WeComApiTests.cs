using System.Net;
using System.Text.Json;
using Appliance.Tests.Infrastructure;
using Appliance.WeCom.Api;
using Camera.Jpeg;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.WeCom;

/// <summary>End to end against the fake WeCom API server on loopback.</summary>
public sealed class WeComApiTests
{
    [Fact]
    public async Task Photo_AllowedUser_UploadsValidJpegAndRepliesWithItsMediaId()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "拍照", WeComCallbackClient.NextMsgId())));

        var upload = Assert.Single(api.CallsTo("media/upload"));
        Assert.Equal("image", upload.Query["type"]);
        Assert.StartsWith("multipart/form-data; boundary=", upload.ContentType, StringComparison.Ordinal);
        Assert.DoesNotContain("\"", upload.ContentType, StringComparison.Ordinal);
        Assert.Equal("media", upload.Upload!.FieldName);
        Assert.Equal("image/jpeg", upload.Upload.ContentType);
        Assert.Contains($"filelength={upload.Upload.Bytes.Length}", upload.Upload.ContentDisposition, StringComparison.Ordinal);
        var (width, height) = JpegDecoderProbe(upload.Upload.Bytes);
        Assert.Equal((320, 240), (width, height));
        Assert.Equal("image", reply["MsgType"]);
        Assert.Contains("<Image><MediaId><![CDATA[media-1]]></MediaId></Image>", reply["_xml"], StringComparison.Ordinal);
    }

    private static (int Width, int Height) JpegDecoderProbe(byte[] jpeg)
    {
        // A full decode through libturbojpeg: a truncated or corrupt JPEG fails here.
        using var decoder = new JpegDecoder();
        var rgb = decoder.DecodeRgb(jpeg, out var width, out var height);
        Assert.Equal(width * height * 3, rgb.Length);
        return (width, height);
    }

    [Fact]
    public async Task Photo_SlowUpload_EmptyOkWithinBudgetThenWorkingTextAndImageBySend()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.UploadDelay = TimeSpan.FromSeconds(2);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:PassiveReplyBudget=00:00:00.5"));
        var client = WeComCallbackClient.For(server);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var response = await client.PostAsync(WeComCallbackClient.TextXml("alice", "photo", WeComCallbackClient.NextMsgId()));
        var answeredIn = started.Elapsed;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.InRange(answeredIn, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(1500));
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 2, TimeSpan.FromSeconds(10)));
        var sends = api.CallsTo("message/send").Select(FakeWeComServer.Json).ToList();
        Assert.Equal("text", sends[0].GetProperty("msgtype").GetString());
        Assert.Equal("alice", sends[0].GetProperty("touser").GetString());
        Assert.Equal("image", sends[1].GetProperty("msgtype").GetString());
        Assert.Equal("media-1", sends[1].GetProperty("image").GetProperty("media_id").GetString());
        Assert.Equal(WeComCallbackClient.AgentId, sends[1].GetProperty("agentid").GetInt32());
    }

    [Fact]
    public async Task Photo_RetriedMsgId_UploadsOnce()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.UploadDelay = TimeSpan.FromSeconds(1);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:PassiveReplyBudget=00:00:00.3"));
        var client = WeComCallbackClient.For(server);
        var plain = WeComCallbackClient.TextXml("alice", "拍照", WeComCallbackClient.NextMsgId());

        var first = await client.PostAsync(plain);
        var second = await client.PostAsync(plain);
        await Task.Delay(1500);
        var third = await client.PostAsync(plain);

        Assert.All([first, second, third], r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 2, TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        Assert.Single(api.CallsTo("media/upload"));
        Assert.Equal(2, api.CallsTo("message/send").Count());
    }

    [Fact]
    public async Task Token_FiftyConcurrentCallers_ExactlyOneGettoken()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.TokenDelay = TimeSpan.FromMilliseconds(300);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => client.SendAsync("alice", new TextMessage($"m{i}"), CancellationToken.None))));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.ToString()));
        Assert.Single(api.CallsTo("gettoken"));
        Assert.Equal(50, api.CallsTo("message/send").Count());
    }

    [Theory]
    [InlineData(42001)]
    [InlineData(40014)]
    [InlineData(40001)]
    public async Task Send_TokenRejectedMidFlight_RefetchesOnceAndSucceeds(int errcode)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        Assert.True((await client.SendAsync("alice", new TextMessage("warm up"), CancellationToken.None)).IsSuccess);

        api.FailNext("message/send", errcode);
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.SendAsync("alice", new TextMessage("x"), CancellationToken.None)));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.ToString()));
        Assert.Equal(2, api.CallsTo("gettoken").Count());
    }

    [Fact]
    public async Task Send_TokenRejectedTwice_TypedInvalidTokenError()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("message/send", 40014, times: 2);

        var result = await client.SendAsync("alice", new TextMessage("x"), CancellationToken.None);

        Assert.Equal(WeComErrorKind.InvalidToken, result.Error?.Kind);
    }

    [Fact]
    public async Task Send_BusyTwice_RetriedWithBackoffAndSucceeds()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("message/send", -1, times: 2);
        api.FailNext("gettoken", -1);

        var result = await client.SendAsync("alice", new TextMessage("x"), CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.ToString());
        Assert.Equal(2, api.CallsTo("gettoken").Count());
        Assert.Equal(3, api.CallsTo("message/send").Count());
    }

    [Fact]
    public async Task Send_BusyForever_TypedBusyErrorAfterThreeRetries()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("message/send", -1, times: 10);

        var result = await client.SendAsync("alice", new TextMessage("x"), CancellationToken.None);

        Assert.Equal(WeComErrorKind.Busy, result.Error?.Kind);
        Assert.Equal(4, api.CallsTo("message/send").Count());
    }

    [Fact]
    public async Task Upload_IpNotTrusted_TypedIpNotAllowedError()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("media/upload", 60020);

        var result = await client.UploadMediaAsync(MediaType.Image, "a.jpg", "image/jpeg", new byte[100], CancellationToken.None);

        Assert.Equal(WeComErrorKind.IpNotAllowed, result.Error?.Kind);
        Assert.Contains("relay", result.Error!.Message, StringComparison.Ordinal);
    }

    /// <summary>WeCom's limits per type (wecom.md): image and video 10 MB, voice 2 MB, file 20 MB, and more than 5 bytes.</summary>
    [Theory]
    [InlineData(MediaType.Image, (10 * 1024 * 1024) + 1)]
    [InlineData(MediaType.Video, (10 * 1024 * 1024) + 1)]
    [InlineData(MediaType.Voice, (2 * 1024 * 1024) + 1)]
    [InlineData(MediaType.File, (20 * 1024 * 1024) + 1)]
    [InlineData(MediaType.Image, 5)]
    [InlineData(MediaType.File, 0)]
    public async Task Upload_OutsideTheTypesSizeLimits_RefusedLocallyWithoutCall(MediaType type, int bytes)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();

        var result = await client.UploadMediaAsync(type, "a.bin", "application/octet-stream", new byte[bytes], CancellationToken.None);

        Assert.Equal(WeComErrorKind.MediaSize, result.Error?.Kind);
        Assert.Empty(api.CallsTo("media/upload"));
    }

    [Theory]
    [InlineData(MediaType.Voice, 2 * 1024 * 1024)]
    [InlineData(MediaType.Image, 6)]
    public async Task Upload_AtTheTypesLimit_Sent(MediaType type, int bytes)
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();

        var result = await client.UploadMediaAsync(type, "a.bin", "application/octet-stream", new byte[bytes], CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.ToString());
        Assert.Equal(bytes, Assert.Single(api.CallsTo("media/upload")).Upload!.Bytes.Length);
    }

    [Fact]
    public async Task GetMedia_TokenRejectedOnce_RefetchesAndDownloads()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("voice", [9, 8, 7]);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("media/get", 42001);

        using var voice = new MemoryStream();
        var result = await client.GetMediaAsync("voice", voice, CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.ToString());
        Assert.Equal([9, 8, 7], voice.ToArray());
        Assert.Equal(2, api.CallsTo("gettoken").Count());
        Assert.Equal(2, api.CallsTo("media/get").Count());
    }

    [Fact]
    public async Task GetMedia_TokenRejectedTwice_TypedInvalidTokenErrorAndNothingWritten()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("voice", [9, 8, 7]);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = server.GetRequiredService<WeComApiClient>();
        api.FailNext("media/get", 40014, times: 2);

        using var voice = new MemoryStream();
        var result = await client.GetMediaAsync("voice", voice, CancellationToken.None);

        Assert.Equal(WeComErrorKind.InvalidToken, result.Error?.Kind);
        Assert.Equal(0, voice.Length);
    }

    [Fact]
    public async Task GetMedia_OverSizeCap_StopsWithTypedErrorAndSmallOneStreams()
    {
        await using var api = await FakeWeComServer.StartAsync();
        api.AddMedia("big", new byte[200_000]);
        api.AddMedia("small", [1, 2, 3, 4, 5, 6, 7]);
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:MaxDownloadBytes=100000"));
        var client = server.GetRequiredService<WeComApiClient>();

        using var big = new MemoryStream();
        var oversize = await client.GetMediaAsync("big", big, CancellationToken.None);
        using var small = new MemoryStream();
        var ok = await client.GetMediaAsync("small", small, CancellationToken.None);
        using var none = new MemoryStream();
        var missing = await client.GetMediaAsync("nope", none, CancellationToken.None);

        Assert.Equal(WeComErrorKind.MediaSize, oversize.Error?.Kind);
        Assert.True(ok.IsSuccess);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], small.ToArray());
        Assert.Equal(40007, missing.Error?.ErrCode);
    }

    [Fact]
    public async Task Token_CachedInStateDirectory_ReusedAfterRestartAndNeverLogged()
    {
        await using var api = await FakeWeComServer.StartAsync();
        var logs = new CapturingLoggerProvider();
        var state = Directory.CreateTempSubdirectory("wecom-token-").FullName;
        string[] settings = [.. WeComCallbackClient.Settings(api), $"--State:Directory={state}"];
        await using (var first = await ApplianceServer.StartAsync(logs.Install, settings))
        {
            Assert.True((await first.GetRequiredService<WeComApiClient>().SendAsync("alice", new TextMessage("a"), CancellationToken.None)).IsSuccess);
        }

        await using (var second = await ApplianceServer.StartAsync(logs.Install, settings))
        {
            Assert.True((await second.GetRequiredService<WeComApiClient>().SendAsync("alice", new TextMessage("b"), CancellationToken.None)).IsSuccess);
        }

        Assert.Single(api.CallsTo("gettoken"));
        var token = api.CallsTo("message/send").First().Query["access_token"];
        Assert.Equal(token, api.CallsTo("message/send").Last().Query["access_token"]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, "wecom-token.json")));
        Assert.NotEmpty(logs.Lines);
        Assert.DoesNotContain(logs.Lines, l => l.Contains(token, StringComparison.Ordinal) || l.Contains(FakeWeComServer.Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Live_AllowedUser_TextcardWithSignedPublicLinkBySend()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:PublicBaseUrl=https://cam.example.org"));
        var client = WeComCallbackClient.For(server);

        var response = await client.PostAsync(WeComCallbackClient.TextXml("alice", "直播", WeComCallbackClient.NextMsgId()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Any(), TimeSpan.FromSeconds(5)));
        var card = FakeWeComServer.Json(api.CallsTo("message/send").Single());
        Assert.Equal("textcard", card.GetProperty("msgtype").GetString());
        var url = card.GetProperty("textcard").GetProperty("url").GetString()!;
        Assert.StartsWith("https://cam.example.org/?t=", url, StringComparison.Ordinal);

        // The link's token opens the page on the appliance without a login.
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = server.BaseAddress };
        var page = await anonymous.GetAsync(new Uri(url).PathAndQuery);
        Assert.True(page.StatusCode is HttpStatusCode.OK, page.StatusCode.ToString());
    }

    [Fact]
    public async Task Video_TwoSeconds_UploadsMp4AndSendsVideo()
    {
        await using var api = await FakeWeComServer.StartAsync();
        var logs = new CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, WeComCallbackClient.Settings(api));
        var client = WeComCallbackClient.For(server);

        var response = await client.PostAsync(WeComCallbackClient.TextXml("alice", "录像2", WeComCallbackClient.NextMsgId()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // A 2 s clip may be ready within the passive-reply budget or not: either way it arrives as a video.
        if ((await response.Content.ReadAsStringAsync()).Length > 0)
        {
            var reply = await client.ReadReplyAsync(response);
            Assert.Equal("video", reply["MsgType"]);
        }
        else
        {
            var sent = await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Any(c => FakeWeComServer.Json(c).GetProperty("msgtype").GetString() == "video"), TimeSpan.FromSeconds(30));
            Assert.True(sent, string.Join("\n", logs.Lines.Where(l => l.Contains("WeCom", StringComparison.Ordinal) || l.Contains("ffmpeg", StringComparison.Ordinal))));
        }

        var upload = Assert.Single(api.CallsTo("media/upload"));
        Assert.Equal("video", upload.Query["type"]);
        Assert.Equal("ftyp", System.Text.Encoding.ASCII.GetString(upload.Upload!.Bytes, 4, 4));
    }

    [Fact]
    public async Task Video_FfmpegAbsent_ClearTextAnswer()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:FfmpegPath=/nonexistent/ffmpeg"));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "video", WeComCallbackClient.NextMsgId())));

        Assert.Contains("ffmpeg", reply["Content"], StringComparison.Ordinal);
        Assert.Empty(api.CallsTo("media/upload"));
    }

    [Theory]
    [InlineData("", 5)]
    [InlineData("10", 10)]
    [InlineData("10s", 10)]
    [InlineData("10秒", 10)]
    [InlineData("10 秒", 10)]
    [InlineData("10秒钟", 10)]
    [InlineData("10 s", 10)]
    [InlineData("10 sec", 10)]
    [InlineData("10 Seconds", 10)]
    [InlineData("秒", null)]
    [InlineData("30", 30)]
    [InlineData("31", 30)]
    [InlineData("99999999999", null)]
    [InlineData("0", null)]
    [InlineData("-3", null)]
    [InlineData("ten", null)]
    [InlineData("1.5", null)]
    public void Video_Length_DefaultCappedOrRefused(string arguments, int? expected)
    {
        Assert.Equal(expected, Appliance.WeCom.Commands.VideoCommand.ParseSeconds(arguments));
    }

    [Fact]
    public async Task Video_BadLength_ClearTextAnswerAndNothingRecorded()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var client = WeComCallbackClient.For(server);

        var reply = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "录像0", WeComCallbackClient.NextMsgId())));

        Assert.Equal("text", reply["MsgType"]);
        Assert.Contains("1–30", reply["Content"], StringComparison.Ordinal);
        Assert.Empty(api.CallsTo("media/upload"));
    }

    /// <summary>An "ffmpeg" that takes the frames and then does what <paramref name="body"/> says (error injection).</summary>
    private static string FakeFfmpeg(string body)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("fake-ffmpeg-").FullName, "ffmpeg");
        File.WriteAllText(path, "#!/bin/sh\ncat > /dev/null\nfor out; do :; done\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>The text the member got: the passive reply, or the message/send that followed an empty one.</summary>
    private static async Task<string> TextAnswerAsync(WeComCallbackClient client, FakeWeComServer api, HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        if ((await response.Content.ReadAsStringAsync()).Length > 0)
        {
            var reply = await client.ReadReplyAsync(response);
            Assert.Equal("text", reply["MsgType"]);
            return reply["Content"];
        }

        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Any(), TimeSpan.FromSeconds(30)), "no answer was sent");
        var sent = FakeWeComServer.Json(api.CallsTo("message/send").First());
        Assert.Equal("text", sent.GetProperty("msgtype").GetString());
        return sent.GetProperty("text").GetProperty("content").GetString()!;
    }

    [Fact]
    public async Task Video_ClipOverTenMegabytes_ClearTextAnswerNotUploadedAndFileRemoved()
    {
        await using var api = await FakeWeComServer.StartAsync();
        var ffmpeg = FakeFfmpeg("head -c 11534336 /dev/zero > \"$out\"");
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, $"--WeCom:FfmpegPath={ffmpeg}"));
        var client = WeComCallbackClient.For(server);

        var text = await TextAnswerAsync(client, api, await client.PostAsync(WeComCallbackClient.TextXml("alice", "录像1", WeComCallbackClient.NextMsgId())));

        Assert.Contains("11.0 MB, over WeCom's 10 MB limit", text, StringComparison.Ordinal);
        Assert.Empty(api.CallsTo("media/upload"));
        Assert.Empty(Directory.GetFiles(server.StateDirectory, "wecom-clip-*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Video_FfmpegFails_AnswerNamesTheErrorAndFileRemoved()
    {
        await using var api = await FakeWeComServer.StartAsync();
        var ffmpeg = FakeFfmpeg("echo 'Unknown encoder libx264' >&2\nexit 1");
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, $"--WeCom:FfmpegPath={ffmpeg}"));
        var client = WeComCallbackClient.For(server);

        var text = await TextAnswerAsync(client, api, await client.PostAsync(WeComCallbackClient.TextXml("alice", "video 1", WeComCallbackClient.NextMsgId())));

        Assert.Contains("ffmpeg exited with 1: Unknown encoder libx264", text, StringComparison.Ordinal);
        Assert.Empty(api.CallsTo("media/upload"));
        Assert.Empty(Directory.GetFiles(server.StateDirectory, "wecom-clip-*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Alerts_ToFamily_TextAndPhotoThenMergedWithinInterval()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:AlertInterval=00:00:01"));
        var alerts = server.GetRequiredService<Appliance.WeCom.Alerts.IAlertNotifier>();
        var snapshot = await server.GetRequiredService<Appliance.Capture.SnapshotService>().GetFreshAsync(CancellationToken.None);

        await alerts.NotifyAsync("motion at the door", snapshot);
        var second = alerts.NotifyAsync("motion again");
        var third = alerts.NotifyAsync("and again");
        snapshot!.Release();
        await Task.WhenAll(second, third).WaitAsync(TimeSpan.FromSeconds(10));

        var sends = api.CallsTo("message/send").Select(FakeWeComServer.Json).ToList();
        var toAlice = sends.Where(s => s.GetProperty("touser").GetString() == "alice").ToList();
        Assert.Equal(3, toAlice.Count);
        Assert.Equal("motion at the door", toAlice[0].GetProperty("text").GetProperty("content").GetString());
        Assert.Equal("image", toAlice[1].GetProperty("msgtype").GetString());
        Assert.Equal("motion again\n\nand again", toAlice[2].GetProperty("text").GetProperty("content").GetString());
        Assert.Equal(3, sends.Count(s => s.GetProperty("touser").GetString() == "dad"));
    }
    [Fact]
    public async Task Alerts_MemberListedAsUserAndAdminInAnotherCase_GetsEachAlertOnce()
    {
        // WeCom keeps UserIDs unique ignoring case (WeCom:AllowedUsers and Admins are compared so): "alice" and "Alice" are one member.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:Admins:1=Alice"));
        var alerts = server.GetRequiredService<Appliance.WeCom.Alerts.IAlertNotifier>();

        await alerts.NotifyAsync("someone is at the door").WaitAsync(TimeSpan.FromSeconds(10));

        var recipients = api.CallsTo("message/send").Select(c => FakeWeComServer.Json(c).GetProperty("touser").GetString()!).ToList();
        Assert.Single(recipients, r => string.Equals(r, "alice", StringComparison.OrdinalIgnoreCase));
        Assert.Single(recipients, r => r == "dad");
    }
    [Fact]
    public async Task Alerts_PhotoUploadRefusedForAPassingReason_TextSaysItFollows_PhotoSentOnTheRetry()
    {
        // WeCom busy (-1 on every attempt), as when the relay is unreachable: the text goes out, the photo is tried
        // again after WeComMessenger.ResendDelays[0] (30 s on the alerts' clock), as a refused send would be, not dropped.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:AlertInterval=00:00:01"));
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        using var alerts = AlertsOn(server, clock);
        var snapshot = await server.GetRequiredService<Appliance.Capture.SnapshotService>().GetFreshAsync(CancellationToken.None);
        api.FailNext("media/upload", WeComApiClient.Busy, times: 4); // the first upload's attempt and its three busy retries

        await alerts.NotifyAsync("someone is at the door", snapshot).WaitAsync(TimeSpan.FromSeconds(20));
        var jpeg = snapshot!.Jpeg.ToArray();
        snapshot.Release();

        var texts = api.CallsTo("message/send").Select(FakeWeComServer.Json).ToList();
        Assert.Equal(2, texts.Count); // alice and dad
        Assert.All(texts, t => Assert.Contains("photo follows", t.GetProperty("text").GetProperty("content").GetString(), StringComparison.Ordinal));
        clock.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(200);
        Assert.Equal(4, api.CallsTo("media/upload").Count()); // not before the resend delay

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await FakeWeComServer.EventuallyAsync(() => ImagesSent(api) >= 2, TimeSpan.FromSeconds(10)),
            "the photo was not sent after the upload worked again");
        Assert.Equal(5, api.CallsTo("media/upload").Count());
        Assert.Equal(jpeg, api.CallsTo("media/upload").Last().Upload!.Bytes);
    }

    [Fact]
    public async Task Alerts_SecondPhotoWhileTheFirstWaitsForItsRetry_OnlyTheNewestIsKeptAndSent()
    {
        // A PIR firing again and again while the relay is down must not keep a frame (and a retry loop) per alert.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:AlertInterval=00:00:01"));
        var clock = new TimerCountingTimeProvider();
        using var alerts = AlertsOn(server, clock);
        var snapshots = server.GetRequiredService<Appliance.Capture.SnapshotService>();
        api.FailNext("media/upload", WeComApiClient.Busy, times: 8); // both alerts' uploads, with their busy retries

        var first = await snapshots.GetFreshAsync(CancellationToken.None);
        await alerts.NotifyAsync("motion", first).WaitAsync(TimeSpan.FromSeconds(20));
        first!.Release();
        await Task.Delay(150); // the synthetic camera's next frame differs (its clock is drawn in)
        var second = await snapshots.GetFreshAsync(CancellationToken.None);
        var newest = second!.Jpeg.ToArray();
        var merged = alerts.NotifyAsync("motion again", second); // waits for AlertInterval on the alerts' clock
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("media/upload").Count() == 8, TimeSpan.FromSeconds(20)));

        // Only once all wait on the alerts' clock (the kept photo's resend, the merged alert's interval for alice and
        // for dad): moved earlier, an interval's timer could be set after the move, one second past it, and never fire.
        Assert.True(await FakeWeComServer.EventuallyAsync(() => clock.PendingTimers == 3, TimeSpan.FromSeconds(10)),
            $"{clock.PendingTimers} timers wait on the alerts' clock, not 3");
        clock.Advance(TimeSpan.FromSeconds(1));
        await merged.WaitAsync(TimeSpan.FromSeconds(10));
        second.Release();

        clock.Advance(TimeSpan.FromSeconds(29)); // 30 s after the first photo was kept
        Assert.True(await FakeWeComServer.EventuallyAsync(() => ImagesSent(api) >= 2, TimeSpan.FromSeconds(10)), "no photo was sent on the retry");
        clock.Advance(TimeSpan.FromMinutes(15)); // past every later resend delay
        await Task.Delay(500);

        Assert.Equal(9, api.CallsTo("media/upload").Count()); // one retry upload, not one per alert
        Assert.Equal(newest, api.CallsTo("media/upload").Last().Upload!.Bytes);
        Assert.Equal(2, ImagesSent(api)); // alice and dad, once each
    }

    private static Appliance.WeCom.Alerts.WeComAlerts AlertsOn(ApplianceServer server, TimeProvider clock) =>
        new(server.GetRequiredService<Appliance.WeCom.WeComOptions>(), server.Services, clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Appliance.WeCom.Alerts.WeComAlerts>.Instance);

    private static int ImagesSent(FakeWeComServer api) =>
        api.CallsTo("message/send").Count(c => FakeWeComServer.Json(c).GetProperty("msgtype").GetString() == "image");
}
