using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Scoring;

/// <summary>One voice the fake serves: bytes, content type, whether Content-Length is announced, and a delay before the body.</summary>
public sealed record FakeVoice(byte[] Bytes, string ContentType = "voice/speex", bool Chunked = false, TimeSpan Delay = default, TimeSpan ChunkDelay = default);

/// <summary>
/// WeChat's official-account APIs as a real Kestrel app on 127.0.0.1:0: <c>cgi-bin/stable_token</c> (POST JSON),
/// <c>cgi-bin/token</c> and <c>cgi-bin/media/get/jssdk</c> with WeChat's JSON errors (40001 invalid token,
/// 40007 invalid media_id). Records the calls.
/// </summary>
public sealed class FakeWeChatServer : IAsyncDisposable
{
    public const string AppId = "wx-official-test";
    public const string AppSecret = "official-secret-123";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, byte> _validTokens = new();
    private int _counter;

    private FakeWeChatServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public ConcurrentDictionary<string, FakeVoice> Voices { get; } = new();

    /// <summary>Tokens accepted without being issued (a caller's own token).</summary>
    public ConcurrentDictionary<string, byte> ExtraTokens { get; } = new();

    public ConcurrentQueue<(string Api, string Query, string Body)> Calls { get; } = new();

    public int Count(string api) => Calls.Count(c => c.Api == api);

    public void InvalidateAllTokens() => _validTokens.Clear();

    /// <summary>Error injection: raw bodies the next stable_token calls answer instead of a token, one per call.</summary>
    public ConcurrentQueue<string> NextTokenAnswers { get; } = new();

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

    public static async Task<FakeWeChatServer> StartAsync()
    {
        var app = LoopbackApp.Create();
        var fake = new FakeWeChatServer(app);
        app.MapPost("/cgi-bin/stable_token", fake.StableTokenAsync);
        app.MapGet("/cgi-bin/token", fake.Token);
        app.MapGet("/cgi-bin/media/get/jssdk", fake.MediaAsync);
        fake.BaseAddress = await LoopbackApp.StartAsync(app);
        return fake;
    }

    private static Task Json(HttpContext context, JsonObject body)
    {
        context.Response.ContentType = "application/json; encoding=utf-8";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    private static JsonObject Error(int code, string message) => new() { ["errcode"] = code, ["errmsg"] = message + " rid: fake" };

    private JsonObject Issue()
    {
        var token = $"wx-token-{Interlocked.Increment(ref _counter)}";
        _validTokens[token] = 0;
        return new JsonObject { ["access_token"] = token, ["expires_in"] = 7200 };
    }

    private async Task StableTokenAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        Calls.Enqueue(("stable_token", context.Request.QueryString.Value ?? "", body));
        if (NextTokenAnswers.TryDequeue(out var injected))
        {
            context.Response.ContentType = "application/json; encoding=utf-8";
            await context.Response.WriteAsync(injected);
            return;
        }

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (root.GetProperty("grant_type").GetString() != "client_credential" || root.GetProperty("appid").GetString() != AppId
            || root.GetProperty("secret").GetString() != AppSecret)
        {
            await Json(context, Error(40125, "invalid appsecret"));
            return;
        }

        await Json(context, Issue());
    }

    private Task Token(HttpContext context)
    {
        Calls.Enqueue(("token", context.Request.QueryString.Value ?? "", ""));
        return context.Request.Query["appid"] == AppId && context.Request.Query["secret"] == AppSecret
            ? Json(context, Issue())
            : Json(context, Error(40125, "invalid appsecret"));
    }

    private async Task MediaAsync(HttpContext context)
    {
        Calls.Enqueue(("media/get/jssdk", context.Request.QueryString.Value ?? "", ""));
        var token = context.Request.Query["access_token"].ToString();
        if (!_validTokens.ContainsKey(token) && !ExtraTokens.ContainsKey(token))
        {
            await Json(context, Error(40001, "invalid credential, access_token is invalid or not latest"));
            return;
        }

        if (!Voices.TryGetValue(context.Request.Query["media_id"].ToString(), out var voice))
        {
            await Json(context, Error(40007, "invalid media_id"));
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

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }
}
