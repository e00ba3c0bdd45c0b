using Relay.Hosting;
using TunnelProtocol;

namespace Relay.Tunnel;

/// <summary>
/// The tunnel feature: appliances dial in at <c>/_tunnel/connect</c> (one WebSocket each, HTTP/2 over it) and open
/// egress streams at <c>/_tunnel/egress</c>; failed logins are limited per address and name.
/// </summary>
internal static class TunnelExtensions
{
    public static WebApplicationBuilder AddTunnel(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TunnelRegistry>();
        builder.Services.AddSingleton<AuthFailureLimiter>();
        builder.Services.AddSingleton<ClientAddress>();
        builder.Services.AddSingleton<TunnelAcceptor>();
        return builder;
    }

    public static WebApplication UseTunnel(this WebApplication app)
    {
        app.UseWebSockets();
        return app;
    }

    public static WebApplication MapTunnel(this WebApplication app)
    {
        app.Map("/" + TunnelHandshake.ConnectPath, context => Acceptor(context).AcceptAsync(context, egress: false));
        return app;
    }

    /// <summary>
    /// Egress: the appliance's own outbound requests (WeCom's API) leave through the relay's address; the streams are
    /// accepted like tunnels (same login, same limiter).
    /// </summary>
    public static WebApplication MapEgress(this WebApplication app)
    {
        app.Map("/" + TunnelHandshake.EgressPath, context => Acceptor(context).AcceptAsync(context, egress: true));
        return app;
    }

    private static TunnelAcceptor Acceptor(HttpContext context) => context.RequestServices.GetRequiredService<TunnelAcceptor>();
}
