using Relay.Hosting;

namespace Relay.Proxy;

/// <summary>
/// The front door: every request the relay does not answer itself goes to an appliance (by Host or by /NAME/), or
/// gets the one "not reachable" page whether the name is unknown or offline.
/// </summary>
internal static class FrontDoorExtensions
{
    public static WebApplicationBuilder AddFrontDoor(this WebApplicationBuilder builder)
    {
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<RelayOptions>();
            return new Appliance.Streaming.StreamLimiter(
                options.MaxStreamsPerClient, options.MaxStreamsPerLink, options.MaxStreams,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<FrontDoor>(), sp.GetRequiredService<TimeProvider>());
        });
        builder.Services.AddSingleton<FrontDoor>();
        return builder;
    }

    /// <summary>
    /// The fallback endpoint: what no other endpoint matched. <c>{**path}</c>, not MapFallback's default
    /// <c>{*path:nonfile}</c>, which would leave out paths with a file name (<c>/NAME/app.js</c>).
    /// </summary>
    public static WebApplication MapFrontDoor(this WebApplication app)
    {
        app.MapFallback("{**path}", context => context.RequestServices.GetRequiredService<FrontDoor>().HandleAnyAsync(context));
        return app;
    }

    /// <summary>
    /// One of the relay's own endpoints (<c>/status</c>, <c>/healthz</c>), except on a host name of an appliance's
    /// own, where every path is the appliance's (no appliance can be named after them, so /NAME/ paths never clash).
    /// </summary>
    public static RequestDelegate UnlessForAppliance(RequestDelegate relayOwn) => context =>
        context.RequestServices.GetRequiredService<FrontDoor>().Resolve(context.Request) is { } route
            ? context.RequestServices.GetRequiredService<FrontDoor>().HandleAsync(context, route)
            : relayOwn(context);
}
