using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;


namespace Tests.Shared;

/// <summary>One recorded API call.</summary>
public sealed record FakeCall(string Api, IReadOnlyDictionary<string, string> Query, string ContentType, byte[] Body, FakeUpload? Upload, string RawQuery = "");

/// <summary>The "media" part of a media/upload call as the fake parsed it.</summary>
public sealed record FakeUpload(string FieldName, string FileName, string ContentType, string ContentDisposition, byte[] Bytes);

/// <summary>One voice the fake serves from WeChat's media/get/jssdk: bytes, content type, whether Content-Length is announced, and a delay before the body.</summary>
public sealed record FakeVoice(byte[] Bytes, string ContentType = "voice/speex", bool Chunked = false, TimeSpan Delay = default, TimeSpan ChunkDelay = default);

/// <summary>
/// WeCom's server APIs as a real Kestrel app on 127.0.0.1:0: gettoken, media/upload, media/get, message/send; and the
/// WeChat official-account APIs the scorer's voices come from (cgi-bin/stable_token, cgi-bin/token,
/// cgi-bin/media/get/jssdk, with their own app id, secret and tokens). It records every call and injects the
/// documented failures: a wrong secret (40001), an unknown corp (40013), a wrong app secret (40125), expired or
/// invalidated tokens, busy (-1), 60020, an unknown media id (40007), delays, stalled or oversized media; and what is
/// not Tencent's at all (<see cref="AnswerNext"/>: a captive portal's HTML page, an HTTP 500 from a proxy). The one
/// fake of Tencent's servers for the appliance's and the relay's tests (Relay.Tests and ScoringLoad compile this file).
/// </summary>
public sealed class FakeWeComServer : IAsyncDisposable
{
    public const string CorpId = "ww1436e0e65a779aee";
    public const string Secret = "fake-secret-9f8e7d";

    /// <summary>The WeChat official account's app id and secret (Scoring:OfficialAppId, Scoring:OfficialAppSecret).</summary>
    public const string AppId = "wx-official-test";
    public const string AppSecret = "official-secret-123";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, byte> _validTokens = new();
    private readonly ConcurrentDictionary<string, byte> _weChatTokens = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<int>> _nextErrors = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<IResult>> _nextAnswers = new();
    private readonly ConcurrentDictionary<string, byte[]> _media = new();
    private readonly ConcurrentDictionary<string, string> _mediaTypes = new();
    private int _tokenCounter;
    private int _mediaCounter;
    private int _weChatTokenCounter;

    private FakeWeComServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public ConcurrentQueue<FakeCall> Calls { get; } = new();

    /// <summary>How long gettoken takes (widens the window for token races).</summary>
    public TimeSpan TokenDelay { get; set; }

    public TimeSpan UploadDelay { get; set; }

    public int ExpiresIn { get; set; } = 7200;

    /// <summary>The voices WeChat's media/get/jssdk serves, by media id.</summary>
    public ConcurrentDictionary<string, FakeVoice> Voices { get; } = new();

    /// <summary>WeChat tokens accepted without being issued (a caller's own token).</summary>
    public ConcurrentDictionary<string, byte> ExtraTokens { get; } = new();

    /// <summary>Error injection: media ids whose download sends half the file and then stalls until the caller leaves.</summary>
    public ConcurrentBag<string> StalledMedia { get; } = [];

    public IEnumerable<FakeCall> CallsTo(string api) => Calls.Where(c => c.Api == api);

    /// <summary>The next call of <paramref name="api"/> answers <paramref name="errcode"/> instead (queue several for several calls).</summary>
    public void FailNext(string api, int errcode, int times = 1)
    {
        var queue = _nextErrors.GetOrAdd(api, _ => new ConcurrentQueue<int>());
        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(errcode);
        }
    }

    /// <summary>
    /// The next call of <paramref name="api"/> gets this answer instead of WeCom's (a captive portal's page, a proxy's
    /// HTTP 500); answers queued here come before <see cref="FailNext"/>'s.
    /// </summary>
    public void AnswerNext(string api, int statusCode, string body, string contentType) =>
        _nextAnswers.GetOrAdd(api, _ => new ConcurrentQueue<IResult>())
            .Enqueue(Results.Text(body, contentType, System.Text.Encoding.UTF8, statusCode));

    /// <summary>WeCom forgets every issued token (as when another client fetched a new one): the next API call gets 40014.</summary>
    public void InvalidateAllTokens()
    {
        _validTokens.Clear();
        _weChatTokens.Clear();
    }

    /// <summary>A synthetic jssdk voice: <paramref name="frames"/> 60-byte frames, each byte telling its frame and offset.</summary>
    public static byte[] SpeexClip(int frames)
    {
        var bytes = new byte[frames * 60];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i / 60 * 7) + (i % 60));
        }

        return bytes;
    }

    public void AddMedia(string mediaId, byte[] bytes) => _media[mediaId] = bytes;

    /// <summary>Media served with its own content type (voice is audio/amr).</summary>
    public void AddMedia(string mediaId, byte[] bytes, string contentType)
    {
        _mediaTypes[mediaId] = contentType;
        _media[mediaId] = bytes;
    }

    public static async Task<FakeWeComServer> StartAsync()
    {
        var app = LoopbackApp.Create();
        var fake = new FakeWeComServer(app);
        app.MapGet("/cgi-bin/gettoken", (Delegate)fake.GetTokenAsync);
        app.MapPost("/cgi-bin/media/upload", (Delegate)fake.UploadAsync);
        app.MapGet("/cgi-bin/media/get", (Delegate)fake.GetMediaAsync);
        app.MapPost("/cgi-bin/message/send", (Delegate)fake.SendAsync);
        app.MapPost("/cgi-bin/stable_token", (Delegate)fake.StableTokenAsync);
        app.MapGet("/cgi-bin/token", (Delegate)fake.WeChatToken);
        app.MapGet("/cgi-bin/media/get/jssdk", (Delegate)fake.VoiceAsync);
        fake.BaseAddress = await LoopbackApp.StartAsync(app);
        return fake;
    }

    private static Dictionary<string, string> Query(HttpContext context) =>
        context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);

    private static IResult Error(int code, string message) =>
        Results.Text(new JsonObject { ["errcode"] = code, ["errmsg"] = message + ", hint: [fake]" }.ToJsonString(), "application/json");

    private bool TryInjected(string api, out IResult result)
    {
        if (_nextAnswers.TryGetValue(api, out var answers) && answers.TryDequeue(out var answer))
        {
            result = answer;
            return true;
        }

        if (_nextErrors.TryGetValue(api, out var queue) && queue.TryDequeue(out var code))
        {
            result = Error(code, code switch
            {
                -1 => "system busy",
                60020 => "not allow to access from your ip, from ip: 127.0.0.1", // WeCom names the address it saw (here loopback)
                42001 => "access_token expired",
                40014 => "invalid access_token",
                _ => "injected",
            });
            if (code is 42001 or 40014 or 40001)
            {
                _validTokens.Clear();
            }

            return true;
        }

        result = Results.Empty;
        return false;
    }

    private bool TokenInvalid(HttpContext context, out IResult result)
    {
        var token = context.Request.Query["access_token"].ToString();
        if (!_validTokens.ContainsKey(token))
        {
            result = Error(40014, "invalid access_token");
            return true;
        }

        result = Results.Empty;
        return false;
    }

    private async Task<IResult> GetTokenAsync(HttpContext context)
    {
        var query = Query(context);
        Calls.Enqueue(new FakeCall("gettoken", query, "", [], null, context.Request.QueryString.Value ?? ""));
        if (TokenDelay > TimeSpan.Zero)
        {
            await Task.Delay(TokenDelay);
        }

        if (TryInjected("gettoken", out var injected))
        {
            return injected;
        }

        if (query.GetValueOrDefault("corpid") != CorpId)
        {
            return Error(40013, "invalid corpid");
        }

        if (query.GetValueOrDefault("corpsecret") != Secret)
        {
            return Error(40001, "invalid credential");
        }

        var token = $"fake-token-{Interlocked.Increment(ref _tokenCounter)}-{Guid.NewGuid():N}";
        _validTokens[token] = 0;
        return Results.Text(new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["access_token"] = token, ["expires_in"] = ExpiresIn }.ToJsonString(), "application/json");
    }

    private async Task<IResult> UploadAsync(HttpContext context)
    {
        var query = Query(context);
        var contentType = context.Request.ContentType ?? "";
        FakeUpload? upload = null;
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync();
            if (form.Files.Count == 1)
            {
                var file = form.Files[0];
                using var memory = new MemoryStream();
                await file.CopyToAsync(memory);
                upload = new FakeUpload(file.Name, file.FileName, file.ContentType, file.ContentDisposition, memory.ToArray());
            }
        }

        Calls.Enqueue(new FakeCall("media/upload", query, contentType, [], upload, context.Request.QueryString.Value ?? ""));
        if (UploadDelay > TimeSpan.Zero)
        {
            await Task.Delay(UploadDelay);
        }

        if (TryInjected("media/upload", out var injected) || TokenInvalid(context, out injected))
        {
            return injected;
        }

        if (upload is null || upload.FieldName != "media")
        {
            return Error(41001, "media data missing");
        }

        var id = $"media-{Interlocked.Increment(ref _mediaCounter)}";
        _media[id] = upload.Bytes;
        return Results.Text(new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["type"] = query.GetValueOrDefault("type"), ["media_id"] = id, ["created_at"] = "1380000000" }.ToJsonString(), "application/json");
    }

    private IResult GetMediaAsync(HttpContext context)
    {
        var query = Query(context);
        Calls.Enqueue(new FakeCall("media/get", query, "", [], null, context.Request.QueryString.Value ?? ""));
        if (TryInjected("media/get", out var injected) || TokenInvalid(context, out injected))
        {
            return injected;
        }

        var id = query.GetValueOrDefault("media_id") ?? "";
        if (StalledMedia.Contains(id) && _media.TryGetValue(id, out var partial))
        {
            // Half the file, then nothing until the caller gives up (a download that stalls).
            return Results.Stream(async body =>
            {
                await body.WriteAsync(partial.AsMemory(0, partial.Length / 2), context.RequestAborted);
                await body.FlushAsync(context.RequestAborted);
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }, _mediaTypes.GetValueOrDefault(id, "image/jpeg"));
        }

        return _media.TryGetValue(id, out var bytes)
            ? Results.File(bytes, _mediaTypes.GetValueOrDefault(id, "image/jpeg"), _mediaTypes.ContainsKey(id) ? "media.amr" : "media.jpg")
            : Error(40007, "invalid media_id");
    }

    private async Task<IResult> SendAsync(HttpContext context)
    {
        var query = Query(context);
        using var memory = new MemoryStream();
        await context.Request.Body.CopyToAsync(memory);
        Calls.Enqueue(new FakeCall("message/send", query, context.Request.ContentType ?? "", memory.ToArray(), null, context.Request.QueryString.Value ?? ""));
        if (TryInjected("message/send", out var injected) || TokenInvalid(context, out injected))
        {
            return injected;
        }

        return Results.Text(new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["invaliduser"] = "" }.ToJsonString(), "application/json");
    }

    private IResult IssueWeChatToken()
    {
        var token = $"wx-token-{Interlocked.Increment(ref _weChatTokenCounter)}";
        _weChatTokens[token] = 0;
        return WeChatJson(new JsonObject { ["access_token"] = token, ["expires_in"] = 7200 });
    }

    private static IResult WeChatJson(JsonObject body) => Results.Text(body.ToJsonString(), "application/json; encoding=utf-8");

    private static IResult WeChatError(int code, string message) =>
        WeChatJson(new JsonObject { ["errcode"] = code, ["errmsg"] = message + " rid: fake" });

    private async Task<IResult> StableTokenAsync(HttpContext context)
    {
        using var memory = new MemoryStream();
        await context.Request.Body.CopyToAsync(memory);
        Calls.Enqueue(new FakeCall("stable_token", Query(context), context.Request.ContentType ?? "", memory.ToArray(), null, context.Request.QueryString.Value ?? ""));
        if (TryInjected("stable_token", out var injected))
        {
            return injected;
        }

        using var document = JsonDocument.Parse(memory.ToArray());
        var root = document.RootElement;
        return root.GetProperty("grant_type").GetString() != "client_credential" || root.GetProperty("appid").GetString() != AppId
            || root.GetProperty("secret").GetString() != AppSecret
            ? WeChatError(40125, "invalid appsecret")
            : IssueWeChatToken();
    }

    private IResult WeChatToken(HttpContext context)
    {
        var query = Query(context);
        Calls.Enqueue(new FakeCall("token", query, "", [], null, context.Request.QueryString.Value ?? ""));
        return query.GetValueOrDefault("appid") == AppId && query.GetValueOrDefault("secret") == AppSecret
            ? IssueWeChatToken()
            : WeChatError(40125, "invalid appsecret");
    }

    private async Task VoiceAsync(HttpContext context)
    {
        var query = Query(context);
        Calls.Enqueue(new FakeCall("media/get/jssdk", query, "", [], null, context.Request.QueryString.Value ?? ""));
        var token = query.GetValueOrDefault("access_token") ?? "";
        if (!_weChatTokens.ContainsKey(token) && !ExtraTokens.ContainsKey(token))
        {
            await WeChatError(40001, "invalid credential, access_token is invalid or not latest").ExecuteAsync(context);
            return;
        }

        if (!Voices.TryGetValue(query.GetValueOrDefault("media_id") ?? "", out var voice))
        {
            await WeChatError(40007, "invalid media_id").ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = voice.ContentType;
        if (!voice.Chunked)
        {
            context.Response.ContentLength = voice.Bytes.Length;
        }

        await context.Response.StartAsync(context.RequestAborted);
        if (voice.Delay > TimeSpan.Zero)
        {
            await Task.Delay(voice.Delay, context.RequestAborted);
        }

        // Odd-sized writes: frames arrive split across reads, as from a real network.
        for (var offset = 0; offset < voice.Bytes.Length; offset += 1000)
        {
            await context.Response.Body.WriteAsync(voice.Bytes.AsMemory(offset, Math.Min(1000, voice.Bytes.Length - offset)), context.RequestAborted);
            if (voice.ChunkDelay > TimeSpan.Zero)
            {
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(voice.ChunkDelay, context.RequestAborted);
            }
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds (bounded); false when it never did.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
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

    public static JsonElement Json(FakeCall call) => JsonDocument.Parse(call.Body).RootElement;

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }

    public static string Unix(DateTimeOffset time) => time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
}
