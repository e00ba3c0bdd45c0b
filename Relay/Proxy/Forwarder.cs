using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Relay.Tunnel;
using TunnelProtocol;

namespace Relay.Proxy;

/// <summary>
/// Where a public request goes: which appliance, the path it sees (decoded, as its Kestrel will see it), the prefix
/// it sits under, and <paramref name="Target"/>, the path to send it as the visitor sent it (not decoded, without
/// the prefix); null when the relay refuses to forward that path.
/// </summary>
internal readonly record struct ApplianceRoute(string Name, string Path, string Prefix, string? Target);

/// <summary>
/// Forwards one public request over the appliance's tunnel and streams the answer back as it comes (nothing is
/// buffered, so MJPEG, long downloads and uploads flow). X-Forwarded-* are set by the relay, never taken from the
/// visitor, and the relay's own headers are stripped.
/// </summary>
internal sealed partial class Forwarder(ClientAddress addresses, ILogger<Forwarder> logger)
{
    private const int CopyBufferBytes = 64 * 1024;

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        "X-Forwarded-Prefix", "X-Real-IP", TunnelHandshake.RelayKeyHeader, TunnelHandshake.ReplayHeader,
        TunnelHandshake.TimeCheckedHeader,
    };

    /// <summary>A request for the appliance carrying the visitor's headers and the relay's X-Forwarded-*.</summary>
    public HttpRequestMessage CreateRequest(HttpContext context, ApplianceRoute route, string path, bool withBody)
    {
        var incoming = context.Request;
        var request = TunnelSession.NewRequest(new HttpMethod(incoming.Method), path + incoming.QueryString.Value);
        if (withBody && HasBody(context))
        {
            request.Content = new StreamContent(incoming.Body, 64 * 1024);
        }

        foreach (var (name, values) in incoming.Headers)
        {
            if (HopByHop.Contains(name) || name.StartsWith(':'))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values) && request.Content is not null)
            {
                request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        request.Headers.TryAddWithoutValidation("X-Forwarded-For", addresses.Of(context));
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", addresses.SchemeOf(context));
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", incoming.Host.Value);
        if (route.Prefix.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", route.Prefix);
        }

        return request;
    }

    public async Task ForwardAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        using var request = CreateRequest(context, route, route.Target ?? route.Path, withBody: true);
        HttpResponseMessage response;
        try
        {
            response = await session.SendAsync(request, context.RequestAborted);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            LogForwardFailed(logger, route.Name, ex.Message);
            await Pages.WriteUnavailableAsync(context, route.Name, "did not answer");
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        using (response)
        {
            await CopyResponseAsync(context, response);
        }
    }

    /// <summary>Status, headers and the body, flushed as it arrives.</summary>
    public static async Task CopyResponseAsync(HttpContext context, HttpResponseMessage response)
    {
        var outgoing = context.Response;
        outgoing.StatusCode = (int)response.StatusCode;
        CopyHeaders(response.Headers, outgoing.Headers);
        CopyHeaders(response.Content.Headers, outgoing.Headers);
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var token = context.RequestAborted;
        try
        {
            await outgoing.StartAsync(token);
            await using var body = await response.Content.ReadAsStreamAsync(token);
            await CopyBodyAsync(body, outgoing.BodyWriter, token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            // The visitor left, or the tunnel dropped mid-answer: end the response abruptly so it is not taken as complete.
            context.Abort();
        }
    }

    /// <summary>
    /// Copies the body as it arrives, sending whenever the tunnel has nothing more at hand (or a buffer is full):
    /// a stream's frames go out at once, while a bulk answer goes out in large writes, not one per HTTP/2 frame.
    /// </summary>
    internal static async Task CopyBodyAsync(Stream body, PipeWriter writer, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        var reading = false; // a read into the buffer may still be under way: then it must not go back to the pool
        try
        {
            int start = 0, end = 0; // arrived and not yet handed to the writer: buffer[start..end)
            while (true)
            {
                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == buffer.Length)
                {
                    if ((await writer.WriteAsync(buffer.AsMemory(start, end - start), token)).IsCompleted)
                    {
                        return; // the visitor's side is closed
                    }

                    start = end = 0;
                }

                reading = true;
                var read = body.ReadAsync(buffer.AsMemory(end), token);
                if (!read.IsCompleted && end > start)
                {
                    // Nothing more at hand: send what arrived while the read (into buffer[end..]) waits.
                    writer.Write(buffer.AsSpan(start, end - start));
                    start = end;
                    if ((await writer.FlushAsync(token)).IsCompleted)
                    {
                        return;
                    }
                }

                int count;
                try
                {
                    count = await read;
                }
                finally
                {
                    reading = false;
                }

                if (count == 0)
                {
                    break;
                }

                end += count;
            }

            if (end > start)
            {
                await writer.WriteAsync(buffer.AsMemory(start, end - start), token);
            }
        }
        finally
        {
            if (!reading)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public static void CopyHeaders(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from)
        {
            if (!HopByHop.Contains(name))
            {
                to[name] = values.ToArray();
            }
        }
    }

    private static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? (context.Request.ContentLength > 0);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding to {Name} failed: {Reason}")]
    private static partial void LogForwardFailed(ILogger logger, string name, string reason);
}

/// <summary>Pages the relay itself shows.</summary>
internal static class Pages
{
    /// <summary>Shown after a tunnel failed in the middle of a request: the appliance is connected but did not answer.</summary>
    public static async Task WriteUnavailableAsync(HttpContext context, string name, string why)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "10";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "text/html; charset=utf-8";
        var safe = WebUtility.HtmlEncode(name);
        await context.Response.WriteAsync($$"""
            <!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <meta http-equiv="refresh" content="10"><title>{{safe}} is offline</title>
            <style>body{font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#333}</style></head>
            <body><h1>{{safe}} is offline</h1><p>The camera at home {{why}}. It reconnects by itself when its
            internet connection is back; this page retries every 10 seconds.</p>
            <p lang="zh">设备暂时离线，网络恢复后会自动重连；本页每 10 秒重试。</p></body></html>
            """);
    }

    /// <summary>
    /// The answer for an address no connected appliance serves: an unknown name and a configured one that is offline
    /// get the same status and the same bytes, so a stranger cannot list the names a relay serves.
    /// </summary>
    public static async Task WriteNotReachableAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync("""
            <!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <meta http-equiv="refresh" content="10"><title>Not reachable</title>
            <style>body{font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#333}</style></head>
            <body><h1>Not reachable</h1><p>No camera answers at this address now: either the address is wrong, or the
            camera is offline (it reconnects by itself when its internet connection is back). This page retries every 10 seconds.</p>
            <p lang="zh">此地址暂无设备应答：地址有误，或设备暂时离线（网络恢复后会自动重连）。本页每 10 秒重试。</p></body></html>
            """);
    }
}
