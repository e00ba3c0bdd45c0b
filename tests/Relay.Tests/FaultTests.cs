extern alias ApplianceApp;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Relay.Tunnel;
using Xunit.Abstractions;
using TunnelState = ApplianceApp::Appliance.Tunnel.TunnelState;

namespace Relay.Tests;

/// <summary>Relay restarts, appliance deaths and a frozen link: how long until it is noticed and served again.</summary>
public sealed class FaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RelayRestart_ApplianceServedAgainWithinFiveSeconds()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var relay = tunnelled.Relay;
        await relay.RestartAsync();
        var stopwatch = Stopwatch.StartNew();
        using var client = relay.CreateClient();
        while (true)
        {
            using var response = await client.GetAsync("/cam/healthz");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"not served again after {stopwatch.Elapsed}");
            await Task.Delay(50);
        }

        output.WriteLine($"served again {stopwatch.Elapsed.TotalSeconds:0.00} s after the relay restarted");
    }

    [Fact]
    public async Task ApplianceKilled_RelayShowsItOfflineAtOnce()
    {
        await using var relay = await RelayServer.StartAsync();
        var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl);
        await appliance.WaitConnectedAsync();
        await appliance.DisposeAsync();
        var stopwatch = Stopwatch.StartNew();
        var registry = relay.Services.GetRequiredService<TunnelRegistry>();
        while (registry.Get("cam") is not null)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5));
            await Task.Delay(20);
        }

        using var client = relay.CreateClient();
        using var response = await client.GetAsync("/cam/");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode); // answered as an unknown name is (issue 21, finding 9)
        Assert.Contains("Not reachable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        output.WriteLine($"relay noticed the stopped appliance after {stopwatch.Elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task FrozenLink_DetectedByBothSidesWithin20Seconds()
    {
        await using var tunnelled = await RelayWithAppliance.StartThroughFreezableLinkAsync();
        var (relay, appliance) = tunnelled;
        var registry = relay.Services.GetRequiredService<TunnelRegistry>();

        tunnelled.Link!.Freeze();
        var stopwatch = Stopwatch.StartNew();
        TimeSpan? applianceNoticed = null;
        TimeSpan? relayNoticed = null;
        while ((applianceNoticed is null || relayNoticed is null) && stopwatch.Elapsed < TimeSpan.FromSeconds(25))
        {
            if (applianceNoticed is null && appliance.Tunnel.State != TunnelState.Connected)
            {
                applianceNoticed = stopwatch.Elapsed;
            }

            if (relayNoticed is null && registry.Get("cam") is null)
            {
                relayNoticed = stopwatch.Elapsed;
            }

            await Task.Delay(50);
        }

        output.WriteLine($"frozen link noticed by the appliance after {applianceNoticed?.TotalSeconds:0.0} s, by the relay after {relayNoticed?.TotalSeconds:0.0} s");
        Assert.NotNull(applianceNoticed);
        Assert.NotNull(relayNoticed);
        Assert.True(applianceNoticed <= TimeSpan.FromSeconds(20));
        Assert.True(relayNoticed <= TimeSpan.FromSeconds(20));
    }
}
