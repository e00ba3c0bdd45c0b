using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Appliance.WeCom.Crypto;
using Microsoft.AspNetCore.Http.Features;

namespace Appliance.WeCom.Callback;

/// <summary>
/// <c>/wecom/callback</c>: GET answers WeCom's URL verification, POST takes messages. Every rejection is logged with
/// the official error class and answered with a 4xx; nothing runs unless signature, time and receiveid check out.
/// </summary>
public sealed partial class CallbackEndpoint(
    WeComOptions options, WeComCrypto crypto, MessageDispatcher dispatcher, WeComMetrics metrics, TimeProvider time, ILogger<CallbackEndpoint> logger)
{
    public const string Path = "/wecom/callback";

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var deadline = time.GetTimestamp() + (long)(options.PassiveReplyBudget.TotalSeconds * time.TimestampFrequency);
        var response = context.Response;
        try
        {
            var query = RawQuery(context.Request.QueryString.Value);
            if (HttpMethods.IsGet(context.Request.Method))
            {
                var echo = Verify(query, query.GetValueOrDefault("echostr"), out _);
                metrics.Accept();
                response.ContentType = "text/plain; charset=utf-8";
                await response.WriteAsync(crypto.Decrypt(echo), context.RequestAborted);
                return;
            }

            var body = await ReadBodyAsync(context);
            if (body is null)
            {
                await RejectAsync(context, StatusCodes.Status413PayloadTooLarge, "body too large", null);
                return;
            }

            var envelope = CallbackXml.ReadFields(body, options.MaxBodyBytes);
            var encrypt = envelope.GetValueOrDefault("Encrypt") ?? throw new WeComCryptoException(WeComCryptoError.ParseXml, "no Encrypt element");
            var replayedFrom = ReplayedAt(context);
            var relayCheckedAt = RelayHeaderTime(context, TunnelProtocol.TunnelHandshake.TimeCheckedHeader);
            Verify(query, encrypt, out var signedAt, checkClock: replayedFrom is null && relayCheckedAt is null);
            if (relayCheckedAt is { } checkedAt && (time.GetUtcNow() - checkedAt).Duration() > options.MaxClockSkew)
            {
                // The relay vouched for the time, so the message runs; but links and logs use this clock.
                LogClockOff(logger, (time.GetUtcNow() - checkedAt).TotalSeconds);
            }

            var plaintext = crypto.Decrypt(encrypt);
            var message = new InboundMessage(CallbackXml.ReadFields(plaintext, options.MaxBodyBytes));
            if (message.FromUserName.Length == 0 || message.MsgType.Length == 0)
            {
                throw new WeComCryptoException(WeComCryptoError.ParseXml, "message without FromUserName or MsgType");
            }

            metrics.Accept();
            if (replayedFrom is { } receivedAt)
            {
                // The relay answered WeCom when it stored this; the result goes out through message/send. Its age counts
                // from the earlier of the relay's receipt and WeCom's signature: a callback signed long ago and posted
                // to the relay again is as old as its signature says. Measured by the relay's clock when it says it.
                var sentAt = signedAt < receivedAt ? signedAt : receivedAt;
                await dispatcher.HandleReplayAsync(message, relayCheckedAt is { } relayNow ? sentAt + (time.GetUtcNow() - relayNow) : sentAt);
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentLength = 0;
                return;
            }

            var reply = await dispatcher.HandleAsync(message, deadline);
            if (reply is null)
            {
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentLength = 0;
                return;
            }

            var now = time.GetUtcNow().ToUnixTimeSeconds();
            var replyXml = CallbackXml.Reply(message.FromUserName, options.CorpId, now, reply.MsgType, reply.PassiveBody());
            var nonce = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(CultureInfo.InvariantCulture);
            response.ContentType = "application/xml; charset=utf-8";
            await response.WriteAsync(crypto.EncryptReply(replyXml, now.ToString(CultureInfo.InvariantCulture), nonce), context.RequestAborted);
        }
        catch (WeComCryptoException ex)
        {
            var status = ex.Error is WeComCryptoError.ValidateSignature or WeComCryptoError.ValidateCorpId ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest;
            await RejectAsync(context, status, ex.Message, ex.Error);
        }
        catch (BadHttpRequestException ex)
        {
            await RejectAsync(context, ex.StatusCode, ex.Message, null);
        }
        catch (StaleTimestampException ex)
        {
            await RejectAsync(context, StatusCodes.Status403Forbidden, ex.Message, null);
        }
    }

    /// <summary>
    /// When the relay received a callback it replays now (it kept it while the appliance was offline). Believed only on
    /// tunnel connections: anyone else sending the header gets the normal clock check.
    /// </summary>
    private static DateTimeOffset? ReplayedAt(HttpContext context) => RelayHeaderTime(context, TunnelProtocol.TunnelHandshake.ReplayHeader);

    /// <summary>
    /// A Unix time the relay put in <paramref name="header"/>: the replay's receipt, or when it checked a live callback's
    /// signed time against its own clock. Believed only on tunnel connections (the relay strips both from visitors).
    /// </summary>
    private static DateTimeOffset? RelayHeaderTime(HttpContext context, string header) =>
        context.Features.Get<Auth.ITunnelConnectionFeature>() is not null
        && long.TryParse(context.Request.Headers[header].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
        && seconds <= 32503680000
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>
    /// Checks presence, signature and (unless replayed by the relay) clock skew; returns <paramref name="signed"/>,
    /// and in <paramref name="signedAt"/> the signed timestamp.
    /// </summary>
    private string Verify(Dictionary<string, string> query, string? signed, out DateTimeOffset signedAt, bool checkClock = true)
    {
        var signature = query.GetValueOrDefault("msg_signature");
        var timestamp = query.GetValueOrDefault("timestamp");
        var nonce = query.GetValueOrDefault("nonce");
        if (signature is null || timestamp is null || nonce is null || signed is null)
        {
            throw new WeComCryptoException(WeComCryptoError.ParseXml, "msg_signature, timestamp, nonce and echostr/Encrypt are required");
        }

        crypto.VerifySignature(signature, timestamp, nonce, signed);
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 32503680000)
        {
            throw new StaleTimestampException($"timestamp '{timestamp}' is not a Unix time");
        }

        signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var skew = time.GetUtcNow() - signedAt;
        if (checkClock && skew.Duration() > options.MaxClockSkew)
        {
            throw new StaleTimestampException($"timestamp is {skew.TotalSeconds:0} s off (WeCom:MaxClockSkew {options.MaxClockSkew}): replay or wrong clock");
        }

        return signed;
    }

    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        var max = options.MaxBodyBytes;
        if (context.Request.ContentLength > max)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = max;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(max + 1, 16 * 1024));
        try
        {
            using var memory = new MemoryStream();
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                if (memory.Length + read > max)
                {
                    return null;
                }

                memory.Write(buffer, 0, read);
            }

            return memory.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task RejectAsync(HttpContext context, int status, string reason, WeComCryptoError? error)
    {
        metrics.Reject();
        LogRejected(logger, context.Request.Method, status, error is { } e ? (int)e : 0, reason, context.Connection.RemoteIpAddress?.ToString() ?? "?");
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        // Connection: close so a client still sending an oversized body does not keep the connection busy.
        if (status == StatusCodes.Status413PayloadTooLarge)
        {
            context.Response.Headers.Connection = "close";
        }

        await context.Response.WriteAsync($"rejected: {(error is { } code ? $"{(int)code} " : "")}{reason}\n", context.RequestAborted);
    }

    /// <summary>Splits the raw query, URL-decoding each value once; '+' stays '+' (echostr is base64).</summary>
    internal static Dictionary<string, string> RawQuery(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in (query ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? "" : pair[(equals + 1)..];
            result.TryAdd(Uri.UnescapeDataString(name), Uri.UnescapeDataString(value));
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback {Method} rejected with {Status} ({Code}): {Reason}; from {Remote}")]
    private static partial void LogRejected(ILogger logger, string method, int status, int code, string reason, string remote);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This clock is {Seconds:0} s off the relay's (over WeCom:MaxClockSkew): is NTP synced? The relay checked the callback's time, so it runs; links and logs use this clock")]
    private static partial void LogClockOff(ILogger logger, double seconds);

    private sealed class StaleTimestampException(string message) : Exception(message);
}
