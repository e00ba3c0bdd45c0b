using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Relay.Hosting;
using Relay.Streaming;
using Relay.Tunnel;
using Relay.WeCom;
using TunnelProtocol;

namespace Relay.Proxy;

/// <summary>
/// The public side: <c>https://RELAY/NAME/…</c> (or a host in <c>Relay:Appliances:NAME:Hosts</c>) goes to appliance
/// NAME. The stream and snapshots are served from the relay's shared copy; WeCom callbacks go through
/// store-and-forward; everything else is forwarded as is.
/// </summary>
internal sealed class FrontDoor(
    RelayOptions options, TunnelRegistry registry, Forwarder forwarder, StreamFanOuts fanOuts, CallbackRelay callbacks, TimeProvider time)
{
    private readonly Dictionary<string, string> _hosts = options.Appliances
        .SelectMany(a => (a.Value.Hosts ?? []).Select(h => (Host: h.ToLowerInvariant(), Name: a.Key)))
        .ToDictionary(p => p.Host, p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Which appliance a request is for, or null when it is for the relay itself.</summary>
    public ApplianceRoute? Resolve(HttpRequest request)
    {
        if (_hosts.TryGetValue(request.Host.Host, out var byHost))
        {
            return new ApplianceRoute(byHost, request.Path.Value is { Length: > 0 } p ? p : "/", "");
        }

        var path = request.Path.Value ?? "/";
        var end = path.IndexOf('/', 1);
        var first = end < 0 ? path[1..] : path[1..end];
        if (first.Length == 0 || !options.Appliances.ContainsKey(first))
        {
            return null;
        }

        return new ApplianceRoute(first, end < 0 ? "" : path[end..], "/" + first);
    }

    public async Task HandleAsync(HttpContext context, ApplianceRoute route)
    {
        if (route.Path.Length == 0)
        {
            // "/NAME" → "/NAME/" so the page's relative links resolve under the prefix.
            context.Response.Redirect(route.Prefix + "/" + context.Request.QueryString);
            return;
        }

        if (route.Path.StartsWith("/_relay/", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var isGet = HttpMethods.IsGet(context.Request.Method);
        if (route.Path == "/wecom/callback" && options.Appliances[route.Name].WeComToken.Length > 0)
        {
            await callbacks.HandleAsync(context, route);
            return;
        }

        var session = registry.Get(route.Name);
        if (session is null)
        {
            await Pages.WriteUnavailableAsync(context, route.Name, "is not connected to the relay right now");
            return;
        }

        if (isGet && route.Path == "/stream")
        {
            await StreamAsync(context, session, route);
            return;
        }

        if (isGet && route.Path == "/snapshot" && fanOuts.Existing(route.Name)?.FreshFrame(options.SnapshotMaxAge) is { } cached)
        {
            await SnapshotAsync(context, session, route, cached);
            return;
        }

        await forwarder.ForwardAsync(context, session, route);
    }

    /// <summary>Asks the appliance whether this visitor may view; copies any cookie it sets (a view link's).</summary>
    private async Task<bool> AuthorizeAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        using var request = forwarder.CreateRequest(context, route, TunnelHandshake.AuthorizePath, withBody: false);
        request.Method = HttpMethod.Get;
        try
        {
            using var response = await session.Client.SendAsync(request, context.RequestAborted);
            if (response.StatusCode != System.Net.HttpStatusCode.NoContent)
            {
                return false;
            }

            if (response.Headers.TryGetValues("Set-Cookie", out var cookies))
            {
                context.Response.Headers.SetCookie = cookies.ToArray();
            }

            return true;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private async Task StreamAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        int? fpsCap = null;
        if (context.Request.Query.TryGetValue("fps", out var fpsText))
        {
            if (!int.TryParse(fpsText, NumberStyles.None, CultureInfo.InvariantCulture, out var fps) || fps is < 1 or > 120)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("fps must be a whole number from 1 to 120.\n");
                return;
            }

            fpsCap = fps;
        }

        if (!await AuthorizeAsync(context, session, route))
        {
            // Let the appliance give its own answer (login redirect under the prefix, 401, or the page).
            context.Response.Headers.Remove("Set-Cookie");
            await forwarder.ForwardAsync(context, session, route);
            return;
        }

        var hub = fanOuts.For(route.Name);
        var response = context.Response;
        response.ContentType = StreamFanOut.ContentType;
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers.Pragma = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var token = context.RequestAborted;
        using var viewer = hub.AddViewer();
        var minInterval = fpsCap is { } cap ? TimeSpan.FromSeconds(1.0 / cap) : TimeSpan.Zero;
        long last = 0;
        try
        {
            await response.Body.WriteAsync("--frame\r\n"u8.ToArray(), token);
            await response.Body.FlushAsync(token);
            while (!token.IsCancellationRequested)
            {
                var frame = await hub.NextAsync(last, token);
                last = frame.Sequence;
                var started = time.GetTimestamp();

                // A stalled viewer waits here alone; the hub has moved on, and it gets the newest frame when it wakes.
                await response.Body.WriteAsync(frame.Part, token);
                await response.Body.FlushAsync(token);
                if (minInterval > TimeSpan.Zero && minInterval - time.GetElapsedTime(started) is { } wait && wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time, token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The viewer went away.
        }
    }

    private async Task SnapshotAsync(HttpContext context, TunnelSession session, ApplianceRoute route, RelayedFrame frame)
    {
        if (!await AuthorizeAsync(context, session, route))
        {
            context.Response.Headers.Remove("Set-Cookie");
            await forwarder.ForwardAsync(context, session, route);
            return;
        }

        var response = context.Response;
        response.ContentType = "image/jpeg";
        response.ContentLength = frame.JpegLength;
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers["X-Relay-Cache"] = "hit";
        if (frame.Timestamp is not null)
        {
            response.Headers["X-Timestamp"] = frame.Timestamp;
        }

        await response.Body.WriteAsync(frame.Part.AsMemory(frame.JpegOffset, frame.JpegLength), context.RequestAborted);
    }
}
