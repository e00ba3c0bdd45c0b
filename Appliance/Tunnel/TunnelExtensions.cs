using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Status;
using Appliance.Streaming;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using TunnelProtocol;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Tunnel;

/// <summary>
/// The tunnel feature: an outbound, authenticated WebSocket to the relay that Kestrel serves HTTP/2 on (a custom
/// transport), the forwarding rules for tunnelled requests, and egress for API calls.
/// </summary>
public static class TunnelExtensions
{
    public static WebApplicationBuilder AddTunnel(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.BindOptions<TunnelOptions>(TunnelOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.Services.AddSingleton<TunnelDialer>();
        builder.Services.AddSingleton<TunnelEgress>();
        builder.Services.AddSingleton<TunnelConnectionListenerFactory>();
        builder.Services.AddSingleton<TunnelClient>();
        builder.Services.AddSingleton<ITunnelHealth>(sp => sp.GetRequiredService<TunnelClient>());
        builder.Services.AddSingleton<IStatusContributor, TunnelStatusContributor>();
        if (!options.Enabled || options.Validate().Any())
        {
            return builder;
        }

        builder.Services.AddHostedService(sp => sp.GetRequiredService<TunnelClient>());
        // Replaces the direct egress (WeCom's and Scoring's default) on purpose, whichever feature is added first.
        builder.Services.Replace(ServiceDescriptor.Singleton<Appliance.WeCom.Api.IWeComEgress, TunnelWeComEgress>());
        builder.Services.AddSingleton<Appliance.WeCom.Commands.IPublicBaseUrl, TunnelPublicBaseUrl>();
        builder.Services.AddSingleton<Appliance.Hosting.Systemd.IWatchdogHealth, TunnelWatchdogHealth>();
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(
            sp => sp.GetRequiredService<TunnelConnectionListenerFactory>());

        // Kestrel ignores Urls once code adds an endpoint, so the Urls become explicit endpoints beside the tunnel's.
        var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } configured ? configured : "http://localhost:5000";
        var addresses = new List<BindingAddress>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var address = BindingAddress.Parse(url);
            if (address.Scheme != "http" || address.IsUnixPipe)
            {
                builder.AddConfigurationError($"Urls: with a tunnel configured only http:// addresses are supported (got '{url}').");
                continue;
            }

            addresses.Add(address);
        }

        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var address in addresses)
            {
                if (address.Host == "localhost")
                {
                    kestrel.ListenLocalhost(address.Port);
                }
                else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
                {
                    kestrel.Listen(ip, address.Port);
                }
                else
                {
                    kestrel.ListenAnyIP(address.Port);
                }
            }

            kestrel.Listen(new TunnelEndPoint(options.BaseUri.Authority), listen => listen.Protocols = HttpProtocols.Http2);

            // Pings from this side too: a relay that vanished without a FIN is noticed even when nothing is sent.
            kestrel.Limits.Http2.KeepAlivePingDelay = options.PingInterval;
            kestrel.Limits.Http2.KeepAlivePingTimeout = options.PingTimeout;
            // Many viewers and callbacks share one connection; the relay multiplexes them all over it.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
        });
        return builder;
    }

    /// <summary>Call before <c>UseWebAuth</c>: forwarded headers must set the path base before routing.</summary>
    public static WebApplication UseTunnel(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<TunnelRequestMiddleware>();
        return app;
    }

    public static WebApplication MapTunnel(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // The relay asks here, with a visitor's credentials, before it serves them the shared stream or a cached frame.
        app.MapGet(TunnelHandshake.AuthorizePath, (HttpContext context, TimeProvider time) =>
        {
            if (context.Features.Get<ITunnelConnectionFeature>() is null)
            {
                return Results.NotFound();
            }

            if (context.GetWebPrincipal()?.Until is { } until)
            {
                var secondsLeft = Math.Max(0, (long)Math.Ceiling((until - time.GetUtcNow()).TotalSeconds));
                context.Response.Headers[TunnelHandshake.AccessSecondsLeftHeader] = secondsLeft.ToString(CultureInfo.InvariantCulture);
            }

            return Results.NoContent();
        }).RequireAuthorization(WebPolicies.Viewer);

        // The relay says how many watch its shared stream (the status counts them, not its one connection).
        app.MapPost(TunnelHandshake.ViewersPath, (HttpContext context, ViewerTracker viewers) =>
        {
            if (!context.IsRelayOwnRequest())
            {
                return Results.NotFound();
            }

            if (!int.TryParse(context.Request.Headers[TunnelHandshake.ViewersHeader].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                || count > ViewerTracker.MaxRelayAudience)
            {
                return Results.BadRequest($"{TunnelHandshake.ViewersHeader} must be a whole number from 0 to {ViewerTracker.MaxRelayAudience}.");
            }

            // A count that overtook the stream request it belongs to (both travel the tunnel at once): the relay sends it
            // again a second later rather than have the stream's older count stand.
            return viewers.SetRelayAudience(count)
                ? Results.NoContent()
                : Results.Conflict("No shared stream of the relay is open here yet.");
        }).RequireAuthorization(WebPolicies.Viewer);
        return app;
    }
}

/// <summary>The "tunnel" part of /api/status.</summary>
internal sealed class TunnelStatusContributor(TunnelClient client, TunnelOptions options, TimeProvider time) : IStatusContributor
{
    /// <summary>A view-link holder (the link may have been forwarded) learns nothing of the relay or its errors.</summary>
    public void Contribute(JsonObject status, bool forAdmin)
    {
        if (forAdmin)
        {
            Contribute(status);
        }
    }

    public void Contribute(JsonObject status)
    {
        if (!options.Enabled)
        {
            status["tunnel"] = new JsonObject { ["state"] = "disabled" };
            return;
        }

        status["tunnel"] = new JsonObject
        {
            ["state"] = client.State.ToString().ToLowerInvariant(),
            ["healthy"] = client.IsHealthy,
            ["relay"] = options.BaseUri.ToString(),
            ["name"] = options.Name,
            ["connectedSeconds"] = client.ConnectedSince is { } since ? Math.Round((time.GetUtcNow() - since).TotalSeconds) : null,
            ["sessions"] = client.Sessions,
            ["lastError"] = client.LastError,
            ["bytesSent"] = client.BytesSent,
            ["bytesReceived"] = client.BytesReceived,
        };
    }
}
