using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;


namespace Tests.Shared;

/// <summary>How the scorer behaves for the next sessions.</summary>
public enum ScorerBehavior
{
    /// <summary>Checks everything and answers status 0 with a report (or -20 for a bad signature).</summary>
    Answer,

    /// <summary>Answers <see cref="TestScorer.ErrorStatus"/> right after the meta, before any audio.</summary>
    RefuseAfterMeta,

    /// <summary>Reads everything and never answers.</summary>
    Stall,

    /// <summary>Closes the WebSocket right after the meta, without answering.</summary>
    CloseAfterMeta,
}

/// <summary>What one scorer session received, and what was wrong with it.</summary>
public sealed class ScorerSessionRecord
{
    public string FromWeChatHeader { get; set; } = "";

    public string MetaBase64 { get; set; } = "";

    public JsonObject? Meta { get; set; }

    public bool SignatureValid { get; set; }

    public List<byte[]> SpeexFrames { get; } = [];

    public int AudioMessages { get; set; }

    public long PcmBytes { get; set; }

    public MemoryStream Pcm { get; } = new();

    public bool SawEos { get; set; }

    /// <summary>The connection ended without EOS (the proxy aborted it).</summary>
    public bool Aborted { get; set; }

    public List<string> ProtocolErrors { get; } = [];

    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The online scorer as a real Kestrel WebSocket server on 127.0.0.1:0 speaking its documented protocol: a first
/// message <c>uint32 BE length ‖ Base64 meta</c>, audio messages (Speex: frames each prefixed by a 4-byte
/// little-endian length; PCM when item.quality is -1), a 3-byte <c>EOS</c> message, and one answer
/// <c>uint32 BE length ‖ JSON</c>. It verifies the meta's signature with its secret, records everything and can
/// refuse, stall or close early.
/// </summary>
public sealed class TestScorer : IAsyncDisposable
{
    public const string AppId = "test-app-id";
    public const string Secret = "test-scorer-secret";

    private readonly WebApplication _app;

    private TestScorer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public ScorerBehavior Behavior { get; set; } = ScorerBehavior.Answer;

    public int ErrorStatus { get; set; } = -31;

    /// <summary>When false the scorer does not record audio bytes (load runs).</summary>
    public bool Record { get; set; } = true;

    public ConcurrentQueue<ScorerSessionRecord> Sessions { get; } = new();

    public int SessionCount => Sessions.Count;

    /// <summary>The answer it sends for a valid session; tests compare the proxy's body with it byte for byte.</summary>
    public static byte[] AnswerJson(int frames)
    {
        var report = new JsonObject
        {
            ["overall"] = 81.5,
            ["pronunciation"] = 78,
            ["fluency"] = 90,
            ["integrity"] = 100,
            ["locale"] = "en",
            ["version"] = "test-1",
            ["frames"] = frames,
            ["words"] = new JsonArray(
                Word("hello", 95), Word("quick", 41), Word("brown", 88), Word("fox", 52.5), Word("jumps", 60)),
        };
        var answer = $"{{\"status\":0,\"msg\":\"\",\"result\":\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(report.ToJsonString()))}\"}}";
        return Encoding.UTF8.GetBytes(answer);

        static JsonObject Word(string word, double score) => new() { ["word"] = word, ["scores"] = new JsonObject { ["pronunciation"] = score } };
    }

    public static async Task<TestScorer> StartAsync()
    {
        var app = LoopbackApp.Create();
        var scorer = new TestScorer(app);
        app.UseWebSockets();
        app.Map("/scorer", scorer.HandleAsync);
        var address = await LoopbackApp.StartAsync(app);
        scorer.Url = new UriBuilder(address) { Scheme = "ws", Path = "/scorer" }.Uri;
        return scorer;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        var record = new ScorerSessionRecord { FromWeChatHeader = context.Request.Headers["X-from-WeChat"].ToString() };
        if (Record)
        {
            Sessions.Enqueue(record);
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[64 * 1024];
        var behavior = Behavior;
        try
        {
            var first = await ReceiveMessageAsync(socket, buffer);
            if (first is null)
            {
                record.Aborted = true;
                return;
            }

            ReadMeta(record, first);
            if (behavior == ScorerBehavior.CloseAfterMeta)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.InternalServerError, "test closes early", CancellationToken.None);
                return;
            }

            if (behavior == ScorerBehavior.RefuseAfterMeta)
            {
                await AnswerAsync(socket, Encoding.UTF8.GetBytes($"{{\"status\":{ErrorStatus},\"msg\":\"refused by the test scorer\",\"result\":\"\"}}"));

                // Count what still comes after the refusal (the client should stop sending).
                while (await ReceiveMessageAsync(socket, buffer) is { } late)
                {
                    if (late.AsSpan().SequenceEqual("EOS"u8))
                    {
                        record.SawEos = true;
                    }
                    else
                    {
                        record.AudioMessages++;
                        ReadSpeex(record, late);
                    }
                }

                return;
            }

            var pcm = record.Meta?["item"]?["quality"]?.GetValue<int>() == -1;
            while (true)
            {
                var message = await ReceiveMessageAsync(socket, buffer);
                if (message is null)
                {
                    record.Aborted = true;
                    return;
                }

                if (message.Length == 3 && message.AsSpan().SequenceEqual("EOS"u8))
                {
                    record.SawEos = true;
                    break;
                }

                record.AudioMessages++;
                if (pcm)
                {
                    ReadPcm(record, message);
                }
                else
                {
                    ReadSpeex(record, message);
                }
            }

            if (behavior == ScorerBehavior.Stall)
            {
                await DrainAsync(socket, buffer);
                return;
            }

            var answer = !record.SignatureValid
                ? Encoding.UTF8.GetBytes("{\"status\":-20,\"msg\":\"auth failed\",\"result\":\"\"}")
                : AnswerJson(record.SpeexFrames.Count);
            await AnswerAsync(socket, answer);
            await DrainAsync(socket, buffer);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            record.Aborted = !record.SawEos || record.Aborted;
        }
        finally
        {
            record.Ended.TrySetResult();
        }
    }

    private static async Task AnswerAsync(WebSocket socket, byte[] json)
    {
        var frame = new byte[4 + json.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)json.Length);
        json.CopyTo(frame, 4);
        await socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
    }

    /// <summary>Waits for the proxy to close (or abort) after the answer.</summary>
    private static async Task DrainAsync(WebSocket socket, byte[] buffer)
    {
        while (socket.State == WebSocketState.Open)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }
        }
    }

    private static async Task<byte[]?> ReceiveMessageAsync(WebSocket socket, byte[] buffer)
    {
        var count = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            count += result.Count;
            if (result.EndOfMessage)
            {
                return buffer.AsSpan(0, count).ToArray();
            }
        }
    }

    private static void ReadMeta(ScorerSessionRecord record, byte[] message)
    {
        if (message.Length < 4)
        {
            record.ProtocolErrors.Add("first message shorter than its length prefix");
            return;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(message);
        if (length != message.Length - 4)
        {
            record.ProtocolErrors.Add($"meta length prefix {length} but {message.Length - 4} bytes follow");
            return;
        }

        record.MetaBase64 = Encoding.ASCII.GetString(message, 4, message.Length - 4);
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(record.MetaBase64));
            var marker = text.LastIndexOf(";hash=", StringComparison.Ordinal);
            var json = marker < 0 ? text : text[..marker];
            record.Meta = JsonNode.Parse(json) as JsonObject;
            var appId = record.Meta?["appID"]?.GetValue<string>() ?? "";
            var salt = record.Meta?["salt"]?.GetValue<string>() ?? "";
#pragma warning disable CA5351 // MD5 is the scorer protocol's signature.
            var expected = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes($"{appId}+{json}+{salt}+{Secret}")));
#pragma warning restore CA5351
            record.SignatureValid = marker >= 0 && appId == AppId && text[(marker + 6)..] == expected;
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            record.ProtocolErrors.Add("meta is not Base64 JSON: " + ex.Message);
        }
    }

    private void ReadSpeex(ScorerSessionRecord record, byte[] message)
    {
        var offset = 0;
        while (offset < message.Length)
        {
            if (message.Length - offset < 4)
            {
                record.ProtocolErrors.Add($"{message.Length - offset} stray bytes after the last Speex frame");
                return;
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(message.AsSpan(offset));
            if (length <= 0 || length > message.Length - offset - 4)
            {
                record.ProtocolErrors.Add($"Speex frame length {length} does not fit the message");
                return;
            }

            if (length != 60)
            {
                record.ProtocolErrors.Add($"Speex frame of {length} bytes; WeChat's jssdk frames are 60");
            }

            record.SpeexFrames.Add(Record ? message.AsSpan(offset + 4, length).ToArray() : []);
            offset += 4 + length;
        }
    }

    private static void ReadPcm(ScorerSessionRecord record, byte[] message)
    {
        if (message.Length % 2 != 0)
        {
            record.ProtocolErrors.Add($"PCM message of {message.Length} bytes splits a 16-bit sample");
        }

        record.PcmBytes += message.Length;
        record.Pcm.Write(message);
    }

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }
}
