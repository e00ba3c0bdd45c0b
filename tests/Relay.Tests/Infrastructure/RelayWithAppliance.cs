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

    /// <summary>Starts both with the given command-line settings and waits until the tunnel is connected.</summary>
    public static async Task<RelayWithAppliance> StartAsync(string[]? relaySettings = null, string[]? applianceSettings = null)
    {
        var relay = await RelayServer.StartAsync(relaySettings ?? []);
        TunnelledAppliance? appliance = null;
        try
        {
            appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl, settings: applianceSettings ?? []);
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
