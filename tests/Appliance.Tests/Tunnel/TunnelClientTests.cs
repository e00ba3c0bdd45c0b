using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Appliance.Tunnel;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.Tunnel;

/// <summary>The reconnect loop and its watchdog health, on a hand-moved clock against relays that never let it in.</summary>
public sealed class TunnelClientTests
{
    [Fact]
    public async Task Reconnect_RelayRefusesConnections_KeepsTryingForeverAndStaysHealthy()
    {
        var port = ClosedLoopbackPort();
        var time = new ManualTimeProvider();
        using var client = NewClient($"ws://127.0.0.1:{port}/", time, TimeSpan.FromSeconds(10));
        await client.StartAsync(CancellationToken.None);
        try
        {
            // Far past the cap (30 s after the 7th failure) and past the watchdog's allowance: the loop never gives
            // up, every failure leaves it waiting on the clock, and it counts as healthy all along.
            for (var attempt = 1; attempt <= 40; attempt++)
            {
                await WaitForAsync(() => client.State == TunnelState.Reconnecting && time.PendingTimers == 1, $"attempt {attempt} to fail and wait");
                Assert.Contains("refused", client.LastError ?? "", StringComparison.OrdinalIgnoreCase);
                Assert.True(client.IsHealthy, $"unhealthy while waiting after attempt {attempt}");
                time.Advance(ReconnectBackoff.Cap);
            }

            Assert.Equal(0, client.Sessions);
        }
        finally
        {
            await client.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task IsHealthy_AttemptThatNeverEnds_TurnsFalseOnlyPastTheAllowance()
    {
        // A relay that accepts TCP and never answers the upgrade; the attempt's own timeout is far away.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var time = new ManualTimeProvider();
        var connectTimeout = TimeSpan.FromMinutes(10);
        using var client = NewClient($"ws://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/", time, connectTimeout);
        await client.StartAsync(CancellationToken.None);
        try
        {
            using var accepted = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(TunnelState.Connecting, client.State);

            var allowance = ReconnectBackoff.Cap + connectTimeout + TimeSpan.FromSeconds(30);
            time.Advance(allowance - TimeSpan.FromSeconds(1));
            Assert.True(client.IsHealthy);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(client.IsHealthy);
        }
        finally
        {
            await client.StopAsync(CancellationToken.None);
        }
    }

    private static TunnelClient NewClient(string relayUrl, TimeProvider time, TimeSpan connectTimeout)
    {
        var options = new TunnelOptions { RelayUrl = relayUrl, Name = "cam", Secret = "0123456789abcdef-test-secret", ConnectTimeout = connectTimeout };
        return new TunnelClient(options, new TunnelDialer(options), new TunnelConnectionListenerFactory(), time, NullLogger<TunnelClient>.Instance);
    }

    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}
