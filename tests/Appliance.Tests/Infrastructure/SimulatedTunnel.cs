using Appliance.Tunnel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Infrastructure;

/// <summary>
/// Marks requests that carry <see cref="Header"/> as arrived on a relay tunnel connection, as the tunnel transport
/// does for its connections, so the appliance's own forwarding rules (X-Forwarded-For/Proto/Prefix) and tunnel
/// checks apply to them without a relay.
/// </summary>
internal sealed class SimulatedTunnel : IStartupFilter
{
    public const string Header = "X-Test-Tunnel";

    public static void Install(WebApplicationBuilder builder) => builder.Services.AddSingleton<IStartupFilter>(new SimulatedTunnel());

    /// <summary>A request as the relay forwards it: from <paramref name="visitor"/>, over https, under <c>/home</c>.</summary>
    public static HttpRequestMessage Request(HttpMethod method, string path, string visitor, string proto = "https", string prefix = "/home")
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add(Header, "1");
        request.Headers.Add("X-Forwarded-For", visitor);
        request.Headers.Add("X-Forwarded-Proto", proto);
        request.Headers.Add("X-Forwarded-Prefix", prefix);
        return request;
    }

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            if (context.Request.Headers.Remove(Header))
            {
                var info = new TunnelConnectionInfo("test-relay-key", DateTimeOffset.UtcNow);
                context.Features.Set<Appliance.Auth.ITunnelConnectionFeature>(info);
                context.Features.Set(info);
            }

            return nextMiddleware(context);
        });
        next(app);
    };
}
