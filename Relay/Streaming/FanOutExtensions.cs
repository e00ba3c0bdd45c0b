namespace Relay.Streaming;

/// <summary>
/// The MJPEG fan-out: one upstream <c>/stream</c> per appliance shared by all its viewers through the relay (the
/// front door serves <c>/NAME/stream</c> and fresh <c>/NAME/snapshot</c>s from it).
/// </summary>
internal static class FanOutExtensions
{
    public static WebApplicationBuilder AddFanOut(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<StreamFanOuts>();
        return builder;
    }
}
