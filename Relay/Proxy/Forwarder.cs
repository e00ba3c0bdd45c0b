using System.Net;
using Relay.Tunnel;
using TunnelProtocol;
using Yarp.ReverseProxy.Forwarder;

namespace Relay.Proxy;

/// <summary>
/// Where a public request goes: which appliance, the path it sees (decoded, as its Kestrel will see it), the prefix
/// it sits under, and <paramref name="Target"/>, the path to send it as the visitor sent it (not decoded, without
/// the prefix); null when the relay refuses to forward that path.
/// </summary>
internal readonly record struct ApplianceRoute(string Name, string Path, string Prefix, string? Target);

/// <summary>
/// Forwards one public request over the appliance's tunnel with YARP's <see cref="IHttpForwarder"/>, which streams
/// both ways as the bytes come (MJPEG, long downloads and uploads flow), drops hop-by-hop headers and cancels the
/// appliance's side when the visitor leaves. What is the relay's own is in <see cref="ApplianceTransformer"/>: the
/// target path as the visitor sent it, and X-Forwarded-* set by the relay, never taken from the visitor.
/// The MJPEG fan-out (Streaming/) and the callbacks' store-and-forward (WeCom/) stay our own: YARP forwards one
/// request to one answer, while those serve many viewers from one upstream and keep a callback the appliance
/// cannot take now.
/// </summary>
internal sealed partial class Forwarder(IHttpForwarder http, ClientAddress addresses, ILogger<Forwarder> logger)
{
    /// <summary>The authority the tunnel's requests carry (the tunnel's handler connects to nothing else).</summary>
    private const string Destination = "http://appliance/";

    private static readonly ForwarderRequestConfig TunnelRequests = new()
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,

        // No idle limit: the tunnel's HTTP/2 PINGs find a dead link, and an event stream or a paused download may
        // be silent for longer than YARP's default 100 s.
        ActivityTimeout = Timeout.InfiniteTimeSpan,
    };

    public async Task ForwardAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        var error = await http.SendAsync(context, Destination, session.Invoker, TunnelRequests, new ApplianceTransformer(addresses, route));
        if (error is ForwarderError.Request or ForwarderError.RequestTimedOut
            && !context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            // The tunnel dropped, or was replaced, before the appliance answered: YARP's bare 502 becomes the page
            // that says so and retries.
            LogForwardFailed(logger, route.Name, context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString());
            context.Response.Clear();
            await Pages.WriteUnavailableAsync(context, route.Name, "did not answer");
        }
    }

    /// <summary>
    /// A request of the relay's own for the appliance (asking whether a visitor may view, delivering a stored
    /// callback) that carries the visitor's headers and the relay's X-Forwarded-*, as a forwarded one would. Sent with
    /// <see cref="TunnelSession.SendAsync"/>, not <see cref="IHttpForwarder"/>, which always passes the answer to the
    /// visitor: the relay reads these answers itself.
    /// </summary>
    public async Task<HttpRequestMessage> CreateRequestAsync(HttpContext context, ApplianceRoute route, HttpMethod method, string path)
    {
        var request = TunnelSession.NewRequest(method, path + context.Request.QueryString.Value);
        await new ApplianceTransformer(addresses, route).TransformRequestAsync(context, request, Destination, context.RequestAborted);

        // The visitor's body is not sent: neither are the headers that describe it.
        request.Content = null;
        return request;
    }

    /// <summary>The appliance's answer to a request of the relay's own, passed on to the visitor as it is.</summary>
    public static async Task CopyResponseAsync(HttpContext context, HttpResponseMessage response)
    {
        context.Response.StatusCode = (int)response.StatusCode;
        await HttpTransformer.Empty.TransformResponseAsync(context, response, context.RequestAborted);
        ApplianceTransformer.RemoveRelayOwned(context.Response.Headers);
        try
        {
            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            // The visitor left, or the tunnel dropped mid-answer: end the response abruptly so it is not taken as complete.
            context.Abort();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding to {Name} failed: {Reason}")]
    private static partial void LogForwardFailed(ILogger logger, string name, string reason);
}

/// <summary>
/// What the relay changes in a forwarded request and its answer, on top of YARP's copying of everything else
/// (<see cref="HttpTransformer.Empty"/>'s, not <see cref="HttpTransformer.Default"/>'s, which would append to a
/// visitor's forged X-Forwarded-For instead of replacing it and knows nothing of the relay's own headers).
/// </summary>
internal sealed class ApplianceTransformer(ClientAddress addresses, ApplianceRoute route) : HttpTransformer
{
    /// <summary>
    /// Never taken from the visitor nor passed back to them: who the visitor is and where they came from is the
    /// relay's to say, and the relay's key and callback headers prove to the appliance what the relay did.
    /// </summary>
    private static readonly string[] RelayOwned =
    [
        "Host", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix", "X-Real-IP",
        "Trailer", TunnelHandshake.RelayKeyHeader, TunnelHandshake.ReplayHeader, TunnelHandshake.TimeCheckedHeader,
    ];

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        foreach (var name in RelayOwned)
        {
            proxyRequest.Headers.Remove(name);
        }

        var incoming = httpContext.Request;
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", addresses.Of(httpContext));
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", addresses.SchemeOf(httpContext));
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", incoming.Host.Value);
        if (route.Prefix.Length > 0)
        {
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", route.Prefix);
        }

        // The path exactly as the visitor sent it (see ApplianceRoute.Target), not YARP's re-encoding of the decoded
        // one; a request of the relay's own keeps the target it was made with.
        proxyRequest.RequestUri ??= TunnelSession.TargetUri((route.Target ?? route.Path) + incoming.QueryString.Value);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        RemoveRelayOwned(httpContext.Response.Headers);
        return copy;
    }

    /// <summary>The answer's headers without those the relay owns.</summary>
    public static void RemoveRelayOwned(IHeaderDictionary headers)
    {
        foreach (var name in RelayOwned)
        {
            headers.Remove(name);
        }
    }
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
