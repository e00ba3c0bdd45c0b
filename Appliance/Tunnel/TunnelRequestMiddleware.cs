using System.Net;
using System.Security.Cryptography;
using System.Text;
using Appliance.Auth;
using Microsoft.Extensions.Primitives;
using TunnelProtocol;

namespace Appliance.Tunnel;

/// <summary>
/// Runs before routing and login. On tunnel connections only, it applies the relay's X-Forwarded-For/Proto/Host/Prefix
/// (the relay overwrites them, so they are the visitor's), so links and cookies land under <c>/NAME</c>; and it turns
/// the relay's own key (for its shared MJPEG upstream and its viewer counts) into a mark on the request
/// (<see cref="WebPrincipal.Relay"/>). Elsewhere those headers are ignored: a LAN client cannot claim another address.
/// </summary>
internal sealed class TunnelRequestMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<TunnelConnectionInfo>() is not { } tunnel)
        {
            return next(context);
        }

        var request = context.Request;
        var headers = request.Headers;
        if (LastValue(headers["X-Forwarded-For"]) is { } forwardedFor && IPAddress.TryParse(forwardedFor, out var client))
        {
            context.Connection.RemoteIpAddress = client;
        }

        if (LastValue(headers["X-Forwarded-Proto"]) is "https" or "http")
        {
            request.Scheme = LastValue(headers["X-Forwarded-Proto"])!;
        }

        if (LastValue(headers["X-Forwarded-Host"]) is { Length: > 0 } host)
        {
            request.Host = HostString.FromUriComponent(host);
        }

        if (LastValue(headers["X-Forwarded-Prefix"]) is { } prefix && IsSafePrefix(prefix))
        {
            request.PathBase = new PathString(prefix).Add(request.PathBase);
        }

        if (headers.TryGetValue(TunnelHandshake.RelayKeyHeader, out var key))
        {
            headers.Remove(TunnelHandshake.RelayKeyHeader);
            if (KeyMatches(key.ToString(), tunnel.RelayKey))
            {
                // The relay asks for the stream on behalf of viewers it has already checked (and whose access it ends
                // when theirs does), or tells how many watch: a viewer of its own, not a visitor.
                context.MarkRelayOwnRequest();
            }
        }

        return next(context);
    }

    private static string? LastValue(StringValues values)
    {
        var value = values.ToString();
        if (value.Length == 0)
        {
            return null;
        }

        var comma = value.LastIndexOf(',');
        return (comma < 0 ? value : value[(comma + 1)..]).Trim();
    }

    /// <summary>"/name" or "/a/b": segments of URL-safe characters, no dot segments, no trailing slash.</summary>
    internal static bool IsSafePrefix(string prefix) =>
        prefix.Length is > 1 and <= 200 && prefix[0] == '/' && prefix[^1] != '/'
        && prefix.Split('/').Skip(1).All(s => s.Length > 0 && s != "." && s != ".."
            && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~'));

    private static bool KeyMatches(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
