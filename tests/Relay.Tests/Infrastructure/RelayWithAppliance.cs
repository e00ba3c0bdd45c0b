namespace Relay.Tests.Infrastructure;

/// <summary>
/// The usual start of a relay test: the relay on real Kestrel and an appliance whose tunnel to it is up.
/// <c>var (relay, appliance) = tunnelled;</c> names the two; disposing stops the appliance, then the relay.
/// </summary>
public sealed class RelayWithAppliance : IAsyncDisposable
{
    private RelayWithAppliance(RelayServer relay, TunnelledAppliance appliance)
    {
        Relay = relay;
        Appliance = appliance;
    }

    public RelayServer Relay { get; }

    public TunnelledAppliance Appliance { get; }

    /// <summary>
    /// Starts both with the given command-line settings and waits until the tunnel is connected. The appliance
    /// answers /wecom/callback with <paramref name="callbacks"/> (a fresh recorder if null) and runs on
    /// <paramref name="applianceTime"/> (null: the system's clock).
    /// </summary>
    public static Task<RelayWithAppliance> StartAsync(
        string[]? relaySettings = null, string[]? applianceSettings = null, CallbackRecorder? callbacks = null, TimeProvider? applianceTime = null) =>
        StartAsync(relaySettings, relay => TunnelledAppliance.StartAsync(relay.TunnelUrl, callbacks: callbacks, time: applianceTime, settings: applianceSettings ?? []));

    /// <summary>As <see cref="StartAsync(string[], string[], CallbackRecorder, TimeProvider)"/>, the appliance with its real WeCom feature.</summary>
    public static Task<RelayWithAppliance> StartWithWeComAsync(string[] relaySettings, string[] applianceSettings, TimeProvider? applianceTime = null) =>
        StartAsync(relaySettings, relay => TunnelledAppliance.StartWithWeComAsync(relay.TunnelUrl, applianceTime, applianceSettings));

    private static async Task<RelayWithAppliance> StartAsync(string[]? relaySettings, Func<RelayServer, Task<TunnelledAppliance>> startAppliance)
    {
        var relay = await RelayServer.StartAsync(relaySettings ?? []);
        TunnelledAppliance? appliance = null;
        try
        {
            appliance = await startAppliance(relay);
            await appliance.WaitConnectedAsync();
            return new RelayWithAppliance(relay, appliance);
        }
        catch
        {
            if (appliance is not null)
            {
                await appliance.DisposeAsync();
            }

            await relay.DisposeAsync();
            throw;
        }
    }

    public void Deconstruct(out RelayServer relay, out TunnelledAppliance appliance)
    {
        relay = Relay;
        appliance = Appliance;
    }

    public async ValueTask DisposeAsync()
    {
        await Appliance.DisposeAsync();
        await Relay.DisposeAsync();
    }
}
