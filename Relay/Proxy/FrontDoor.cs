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
    RelayOptions options, TunnelRegistry registry, Forwarder forwarder, StreamFanOuts fanOuts, CallbackRelay callbacks, TimeProvider time,
    ClientAddress clients, Appliance.Streaming.StreamLimiter streams)
{
    private readonly Dictionary<string, string> _hosts = options.Appliances
        .SelectMany(a => (a.Value.Hosts ?? []).Select(h => (Host: HostName(h), Name: a.Key)))
        .ToDictionary(p => p.Host, p => p.Name, StringComparer.OrdinalIgnoreCase);

    private enum Verdict
    {
        Admitted,
        Refused,
        Answered,
        TunnelFailed,
    }

    /// <summary>Which appliance a request is for, or null when it is for the relay itself.</summary>
    public ApplianceRoute? Resolve(HttpRequest request)
    {
        // Path is decoded with dot segments removed: what the appliance's own Kestrel makes of the same target.
        var path = request.Path.Value is { Length: > 0 } p ? p : "/";
        var raw = RawPath(request);
        if (_hosts.TryGetValue(HostName(request.Host.Host), out var byHost))
        {
            return new ApplianceRoute(byHost, path, "", raw is null ? null : SafeForUri(raw));
        }

        var end = path.IndexOf('/', 1);
        var first = end < 0 ? path[1..] : path[1..end];
        if (first.Length == 0 || !options.Appliances.ContainsKey(first) || !options.RoutesByPath)
        {
            return null;
        }

        // The appliance gets the path exactly as the visitor sent it, minus the prefix (which may have been sent
        // percent-encoded: /%63am/ is /cam/ as Path says). Decoding it again here would let %25xx, %3F, %23 or
        // %252e%252e mean something else at the appliance than at the relay.
        string? target = null;
        if (raw is not null)
        {
            var rawEnd = raw.IndexOf('/', 1);
            var rawFirst = rawEnd < 0 ? raw[1..] : raw[1..rawEnd];
            if (string.Equals(Uri.UnescapeDataString(rawFirst), first, StringComparison.Ordinal))
            {
                target = rawEnd < 0 ? "" : SafeForUri(raw[rawEnd..]);
            }
        }

        return new ApplianceRoute(first, end < 0 ? "" : path[end..], "/" + first, target);
    }

    /// <summary>Forwards to the appliance the request is for; the "not reachable" page when it is for none.</summary>
    public Task HandleAnyAsync(HttpContext context) =>
        Resolve(context.Request) is { } route
            ? HandleAsync(context, route)
            // The same answer as for an appliance that is configured but offline: names cannot be told apart.
            : Pages.WriteNotReachableAsync(context);

    public async Task HandleAsync(HttpContext context, ApplianceRoute route)
    {
        if (route.Target is null)
        {
            // Dot segments in the target (only a hand-made request has them; browsers resolve them first).
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("Bad request path.\n");
            return;
        }

        if (route.Path.Length == 0)
        {
            // "/NAME" → "/NAME/" so the page's relative links resolve under the prefix.
            context.Response.Redirect(route.Prefix + "/" + context.Request.QueryString);
            return;
        }

        // The appliance's routing ignores case and a trailing slash: so does the relay when it looks for its own paths.
        var normal = Normalise(route.Path);
        if (normal.Equals("/_relay", StringComparison.OrdinalIgnoreCase) || normal.StartsWith("/_relay/", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var isGet = HttpMethods.IsGet(context.Request.Method);
        if (Is(normal, "/wecom/callback") && options.Appliances[route.Name].WeComToken.Length > 0)
        {
            await callbacks.HandleAsync(context, route);
            return;
        }

        var session = registry.Get(route.Name);
        if (session is null)
        {
            // Answered as an unknown name is (no 503 vs 404 to tell which names are configured).
            await Pages.WriteNotReachableAsync(context);
            return;
        }

        if (isGet && Is(normal, "/stream"))
        {
            await StreamAsync(context, session, route);
            return;
        }

        if (isGet && Is(normal, "/snapshot") && fanOuts.Existing(route.Name)?.FreshFrame(options.SnapshotMaxAge) is { } cached)
        {
            await SnapshotAsync(context, session, route, cached);
            return;
        }

        await forwarder.ForwardAsync(context, session, route);
    }

    /// <summary>A host name without the trailing dot of its fully qualified form (<c>cam.example.com.</c>).</summary>
    internal static string HostName(string host) => host.EndsWith('.') ? host[..^1] : host;

    /// <summary>Repeated slashes collapsed and a trailing one dropped: the form compared with the relay's own paths.</summary>
    internal static string Normalise(string path)
    {
        var collapsed = new System.Text.StringBuilder(path.Length);
        foreach (var c in path)
        {
            if (c != '/' || collapsed.Length == 0 || collapsed[^1] != '/')
            {
                collapsed.Append(c);
            }
        }

        if (collapsed.Length > 1 && collapsed[^1] == '/')
        {
            collapsed.Length--;
        }

        return collapsed.ToString();
    }

    private static bool Is(string normal, string special) => string.Equals(normal, special, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The request target's path as sent (not decoded), without the query; null when it has dot segments, whose
    /// removal by Kestrel (before or after decoding) would make the raw path and <see cref="HttpRequest.Path"/> disagree.
    /// </summary>
    private static string? RawPath(HttpRequest request)
    {
        var target = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target))
        {
            return request.Path.Value is { Length: > 0 } ? request.Path.ToUriComponent() : "/";
        }

        if (target[0] != '/')
        {
            // Absolute form (GET http://host/path HTTP/1.1): the path starts after the authority.
            var scheme = target.IndexOf("://", StringComparison.Ordinal);
            if (scheme < 0)
            {
                return null;
            }

            var at = target.AsSpan(scheme + 3).IndexOfAny('/', '?');
            target = at < 0 ? "/" : target[(scheme + 3 + at)..];
            if (target[0] != '/')
            {
                target = "/" + target;
            }
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            target = target[..query];
        }

        foreach (var segment in target.Split('/'))
        {
            var dots = segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase);
            if (dots is "." or "..")
            {
                return null;
            }
        }

        return target;
    }

    /// <summary>
    /// Percent-encodes what cannot go into the request to the appliance as it is: '#' (it would start a fragment) and
    /// anything but visible ASCII (UTF-8 bytes Kestrel let through). The appliance decodes them to the same path.
    /// </summary>
    private static string SafeForUri(string path)
    {
        if (!path.AsSpan().ContainsAnyExceptInRange('!', '~') && !path.Contains('#', StringComparison.Ordinal))
        {
            return path;
        }

        var escaped = new System.Text.StringBuilder(path.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c is > ' ' and <= '~' and not '#')
            {
                escaped.Append(c);
                continue;
            }

            var length = char.IsHighSurrogate(c) && i + 1 < path.Length
                ? System.Text.Encoding.UTF8.GetBytes(path.AsSpan(i++, 2), utf8)
                : System.Text.Encoding.UTF8.GetBytes(path.AsSpan(i, 1), utf8);
            foreach (var b in utf8[..length])
            {
                escaped.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
            }
        }

        return escaped.ToString();
    }

    /// <summary>Asks the appliance whether this visitor may view; copies any cookie it sets (a view link's).</summary>
    private async Task<(Verdict Verdict, DateTimeOffset? Until)> AuthorizeAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        try
        {
            using var request = await forwarder.CreateRequestAsync(context, route, HttpMethod.Get, TunnelHandshake.AuthorizePath);
            using var response = await session.SendAsync(request, context.RequestAborted);
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            {
                // Too many wrong passwords from this visitor: the appliance's answer (with Retry-After) is theirs.
                await Forwarder.CopyResponseAsync(context, response);
                return (Verdict.Answered, null);
            }

            if (response.StatusCode != System.Net.HttpStatusCode.NoContent)
            {
                return (Verdict.Refused, null);
            }

            if (response.Headers.TryGetValues("Set-Cookie", out var cookies))
            {
                context.Response.Headers.SetCookie = cookies.ToArray();
            }

            // A view link's holder may watch until the link expires (the appliance says in how long).
            var until = response.Headers.TryGetValues(TunnelHandshake.AccessSecondsLeftHeader, out var values)
                && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? time.GetUtcNow().AddSeconds(Math.Min(seconds, 45L * 24 * 3600))
                : (DateTimeOffset?)null;
            return (Verdict.Admitted, until);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
        {
            // The tunnel dropped or was replaced while the appliance was asked: the same as offline.
            return (Verdict.TunnelFailed, null);
        }
    }

    /// <summary>Serves the visitor when the appliance admits them; otherwise its own answer, or the offline page.</summary>
    /// <remarks><c>Until</c>: when a view link's access ends (null: no end).</remarks>
    private async Task<(bool Admitted, DateTimeOffset? Until)> AdmitAsync(HttpContext context, TunnelSession session, ApplianceRoute route)
    {
        var (verdict, until) = await AuthorizeAsync(context, session, route);
        switch (verdict)
        {
            case Verdict.Admitted:
                return (true, until);
            case Verdict.Answered:
                return (false, null);
            case Verdict.TunnelFailed:
                await Pages.WriteUnavailableAsync(context, route.Name, "did not answer");
                return (false, null);
            default:
                // Let the appliance give its own answer (login redirect under the prefix, 401, or the page). Without the
                // HTTP Basic credentials it has just refused: asked again, a wrong password would count twice against
                // Web:MaxLoginFailures.
                context.Response.Headers.Remove("Set-Cookie");
                context.Request.Headers.Remove("Authorization");
                await forwarder.ForwardAsync(context, session, route);
                return (false, null);
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

        // One address's share is checked before the appliance is asked (a flood costs no round trip through the tunnel).
        var client = Appliance.Auth.GuessLimiter.AddressKey(System.Net.IPAddress.TryParse(clients.Of(context), out var ip) ? ip : null);
        using var clientPlace = streams.TryAddClient(client, out var refusal);
        if (clientPlace is null)
        {
            await Appliance.Streaming.StreamLimiter.WriteRefusalAsync(context, refusal);
            return;
        }

        var (admitted, until) = await AdmitAsync(context, session, route);
        if (!admitted)
        {
            return;
        }

        // A view link's holder (the appliance gave an end time): that link's share too.
        using var linkPlace = until is not null && AdmittingLink(context) is { Length: > 0 } link ? streams.TryAddLink(link, client, out refusal) : null;
        if (until is not null && linkPlace is null && refusal != Appliance.Streaming.StreamRefusal.None)
        {
            context.Response.Headers.Remove("Set-Cookie");
            await Appliance.Streaming.StreamLimiter.WriteRefusalAsync(context, refusal);
            return;
        }

        var hub = fanOuts.For(route.Name);
        var response = context.Response;
        response.ContentType = StreamFanOut.ContentType;
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers.Pragma = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // A view link's holder watches until the link expires, as on the appliance itself.
        using var linkExpiry = until is { } end
            ? new CancellationTokenSource(TimeSpan.FromTicks(Math.Clamp((end - time.GetUtcNow()).Ticks, 0, TimeSpan.FromDays(45).Ticks)), time)
            : null;
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, linkExpiry?.Token ?? CancellationToken.None);
        var token = ending.Token;
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

    /// <summary>
    /// The view link the appliance admitted: the one it just set its cookie to (a valid <c>?t=</c>), else the cookie
    /// the visitor sent. A bad <c>?t=</c> next to a good cookie thus counts as the cookie's link.
    /// </summary>
    private static string? AdmittingLink(HttpContext context)
    {
        // The appliance's SessionAuthenticationHandler.LinkCookieName.
        const string LinkCookie = "appliance_link=";
        foreach (var cookie in context.Response.Headers.SetCookie)
        {
            if (cookie is not null && cookie.StartsWith(LinkCookie, StringComparison.Ordinal))
            {
                var value = cookie[LinkCookie.Length..];
                var semicolon = value.IndexOf(';', StringComparison.Ordinal);
                return Uri.UnescapeDataString(semicolon < 0 ? value : value[..semicolon]);
            }
        }

        return context.Request.Cookies[LinkCookie[..^1]];
    }

    private async Task SnapshotAsync(HttpContext context, TunnelSession session, ApplianceRoute route, RelayedFrame frame)
    {
        if (!(await AdmitAsync(context, session, route)).Admitted)
        {
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
