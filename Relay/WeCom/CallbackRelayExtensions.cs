namespace Relay.WeCom;

/// <summary>
/// Store-and-forward of WeCom callbacks (<c>/NAME/wecom/callback</c>, reached through the front door): checked,
/// forwarded live or kept in <c>callbacks.db</c> in the state directory and replayed in order.
/// </summary>
internal static class CallbackRelayExtensions
{
    public static WebApplicationBuilder AddCallbackRelay(this WebApplicationBuilder builder, string stateDirectory)
    {
        builder.Services.AddSingleton(new CallbackStore(Path.Combine(stateDirectory, "callbacks.db")));
        builder.Services.AddSingleton<CallbackReplay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CallbackReplay>());
        builder.Services.AddSingleton<CallbackRelay>();
        return builder;
    }
}
