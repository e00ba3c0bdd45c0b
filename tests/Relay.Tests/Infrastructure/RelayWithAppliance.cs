using Microsoft.Extensions.DependencyInjection;
using Relay.Tunnel;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// The usual start of a relay test: the relay on real Kestrel and an appliance whose tunnel to it is up.
/// <c>var (relay, appliance) = tunnelled;</c> names the two; disposing stops the appliance, then the link between
/// them if any, then the relay.
/// </summary>
public sealed class RelayWithAppliance : IAsyncDisposable
{
    private RelayWithAppliance(RelayServer relay, TunnelledAppliance appliance, FreezableLink? link)
    {
        Relay = relay;
        Appliance = appliance;
        Link = link;
    }

    public RelayServer Relay { get; }

    public TunnelledAppliance Appliance { get; }

    /// <summary>The link the tunnel runs through, when started with <see cref="StartThroughFreezableLinkAsync"/>.</summary>
    public FreezableLink? Link { get; }

    /// <summary>
    /// Starts both with the given command-line settings and waits until the tunnel is connected. The appliance
    /// answers /wecom/callback with <paramref name="callbacks"/> (a fresh recorder if null) and runs on
    /// <paramref name="applianceTime"/>, the relay on <paramref name="relayTime"/> (null: the system's clock).
    /// </summary>
    public static Task<RelayWithAppliance> StartAsync(
        string[]? relaySettings = null, string[]? applianceSettings = null, CallbackRecorder? callbacks = null, TimeProvider? applianceTime = null,
        TimeProvider? relayTime = null) =>
        StartAsync(relaySettings, relayTime, throughLink: false,
            tunnel => TunnelledAppliance.StartAsync(tunnel, callbacks: callbacks, time: applianceTime, settings: applianceSettings ?? []));

    /// <summary>As <see cref="StartAsync(string[], string[], CallbackRecorder, TimeProvider, TimeProvider)"/>, the appliance with its real WeCom feature.</summary>
    public static Task<RelayWithAppliance> StartWithWeComAsync(string[] relaySettings, string[] applianceSettings, TimeProvider? applianceTime = null) =>
        StartAsync(relaySettings, relayTime: null, throughLink: false, tunnel => TunnelledAppliance.StartWithWeComAsync(tunnel, applianceTime, applianceSettings));

    /// <summary>
    /// As <see cref="StartAsync(string[], string[], CallbackRecorder, TimeProvider, TimeProvider)"/>, the tunnel through a
    /// <see cref="FreezableLink"/> (<see cref="Link"/>); returns once the relay, too, has the session.
    /// </summary>
    public static async Task<RelayWithAppliance> StartThroughFreezableLinkAsync()
    {
        var tunnelled = await StartAsync(null, relayTime: null, throughLink: true, tunnel => TunnelledAppliance.StartAsync(tunnel));
        var registry = tunnelled.Relay.Services.GetRequiredService<TunnelRegistry>();
        await Eventually.WaitForAsync(() => registry.Get(RelayServer.Name) is not null, TimeSpan.FromSeconds(5), "the relay to have the session");
        return tunnelled;
    }

    private static async Task<RelayWithAppliance> StartAsync(
        string[]? relaySettings, TimeProvider? relayTime, bool throughLink, Func<Uri, Task<TunnelledAppliance>> startAppliance)
    {
        var relay = await RelayServer.StartAsync(relayTime, relaySettings ?? []);
        FreezableLink? link = null;
        TunnelledAppliance? appliance = null;
        try
        {
            link = throughLink ? new FreezableLink(relay.Port) : null;
            appliance = await startAppliance(link is null ? relay.TunnelUrl : new Uri($"ws://127.0.0.1:{link.Port}/"));
            await appliance.WaitConnectedAsync();
            return new RelayWithAppliance(relay, appliance, link);
        }
        catch
        {
            await DisposeAsync(relay, appliance, link);
            throw;
        }
    }

    public void Deconstruct(out RelayServer relay, out TunnelledAppliance appliance)
    {
        relay = Relay;
        appliance = Appliance;
    }

    public ValueTask DisposeAsync() => DisposeAsync(Relay, Appliance, Link);

    private static async ValueTask DisposeAsync(RelayServer relay, TunnelledAppliance? appliance, FreezableLink? link)
    {
        if (appliance is not null)
        {
            await appliance.DisposeAsync();
        }

        if (link is not null)
        {
            await link.DisposeAsync();
        }

        await relay.DisposeAsync();
    }
}
