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

/// <summary>Endpoint metadata: the least role an endpoint accepts (the default is <see cref="WebRole.Admin"/>).</summary>
public sealed record MinimumRoleMetadata(WebRole Role);

public static class WebPrincipalExtensions
{
    private const string ItemKey = "Appliance.WebPrincipal";

    public static WebPrincipal? GetWebPrincipal(this HttpContext context) =>
        context is not null && context.Items.TryGetValue(ItemKey, out var value) ? value as WebPrincipal : null;

    internal static void SetWebPrincipal(this HttpContext context, WebPrincipal principal) => context.Items[ItemKey] = principal;

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

    /// <summary>Anyone may call this endpoint (health checks, login, WeCom's signed callback).</summary>
    public static TBuilder AllowAnonymousAccess<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new MinimumRoleMetadata(WebRole.Anonymous));

    /// <summary>Holders of a signed view link may call this endpoint too.</summary>
    public static TBuilder AllowViewers<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new MinimumRoleMetadata(WebRole.Viewer));
}
