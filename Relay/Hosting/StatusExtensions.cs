using Relay.Proxy;

namespace Relay.Hosting;

/// <summary>The relay's own pages: <c>/status</c> (HTTP Basic, Relay:AdminPassword) and <c>/healthz</c>.</summary>
internal static class StatusExtensions
{
    public static WebApplicationBuilder AddStatus(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RelayStatus>();
        return builder;
    }

    public static WebApplication MapStatus(this WebApplication app)
    {
        app.Map("/healthz", FrontDoorExtensions.UnlessForAppliance(context => context.Response.WriteAsync("ok\n")));
        app.Map("/status", FrontDoorExtensions.UnlessForAppliance(context => context.RequestServices.GetRequiredService<RelayStatus>().HandleAsync(context)));
        return app;
    }
}
