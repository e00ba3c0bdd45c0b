namespace Appliance.Auth;

/// <summary>Who made a request: a viewer holds a signed link; an admin logged in or sits on loopback.</summary>
public sealed record WebPrincipal(string Name, WebRole Role, string Method)
{
    /// <summary>When a view link's access ends (a stream opened with it ends then too); null for logins.</summary>
    public DateTimeOffset? Until { get; init; }

    public static readonly WebPrincipal Loopback = new("local", WebRole.Admin, "loopback");

    /// <summary>
    /// The relay itself, asking for the stream it shares with its viewers (it checks and times each of them): a viewer
    /// whose access does not end, shown in the status as the relay's audience.
    /// </summary>
    public static readonly WebPrincipal Relay = new("relay", WebRole.Viewer, "relay key");
}

public enum WebRole
{
    Anonymous = 0,
    Viewer = 1,
    Admin = 2,
}

/// <summary>
/// Set on connections that arrive through the relay tunnel. Such requests are never treated as loopback, whatever
/// their socket address says, and only they may carry X-Forwarded-* headers the appliance believes.
/// </summary>
public interface ITunnelConnectionFeature
{
}

public static class WebPrincipalExtensions
{
    /// <summary>
    /// Who the request comes from, after the endpoint's policy authenticated it: the strongest of the schemes that
    /// succeeded (an admin's login beats a view link's cookie, whose expiry then does not apply); null when none did.
    /// </summary>
    public static WebPrincipal? GetWebPrincipal(this HttpContext context)
    {
        if (context is null)
        {
            return null;
        }

        WebPrincipal? best = null;
        foreach (var identity in context.User.Identities)
        {
            if (!identity.IsAuthenticated)
            {
                continue;
            }

            var role = identity.HasClaim(System.Security.Claims.ClaimTypes.Role, WebPolicies.AdminRole) ? WebRole.Admin
                : identity.HasClaim(System.Security.Claims.ClaimTypes.Role, WebPolicies.ViewerRole) ? WebRole.Viewer
                : WebRole.Anonymous;
            if (best is not null && best.Role >= role)
            {
                continue;
            }

            DateTimeOffset? until = identity.FindFirst(WebPolicies.UntilClaim)?.Value is { } text
                && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var unix)
                ? DateTimeOffset.FromUnixTimeSeconds(unix)
                : null;
            best = new WebPrincipal(identity.Name ?? "?", role, identity.FindFirst(WebPolicies.MethodClaim)?.Value ?? "?") { Until = until };
        }

        return best;
    }

    private const string RelayItemKey = "Appliance.RelayOwnRequest";

    /// <summary>Marks a tunnel request that carried the relay's own key (checked by the tunnel's middleware).</summary>
    internal static void MarkRelayOwnRequest(this HttpContext context) => context.Items[RelayItemKey] = true;

    /// <summary>True for a request the relay made for itself (its shared stream, its viewer counts), not for a visitor.</summary>
    public static bool IsRelayOwnRequest(this HttpContext context) =>
        context is not null && context.Items.ContainsKey(RelayItemKey);

    /// <summary>True for a request from this machine that did not come through the tunnel.</summary>
    public static bool IsLocal(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<ITunnelConnectionFeature>() is not null)
        {
            return false;
        }

        var remote = context.Connection.RemoteIpAddress;
        return remote is not null && System.Net.IPAddress.IsLoopback(remote);
    }
}
