using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Tests;

/// <summary>
/// On-demand measurements (Category=Load, not in the default run): latency and throughput through the tunnel vs
/// direct loopback, and the appliance's uplink bytes with 1, 10 and 50 stream viewers. Bounded in count and time.
/// Run: dotnet test tests/Relay.Tests --filter Category=Load --logger "console;verbosity=detailed"
/// </summary>
[Trait("Category", "Load")]
public sealed class TunnelLoadMeasurements(ITestOutputHelper output)
{
    [Fact]
    public async Task Measure_LatencyThroughputAndFanOutUplink()
    {
        await using var relay = await RelayServer.StartAsync();
        await using var appliance = await TunnelledAppliance.StartAsync(relay.TunnelUrl);
        await appliance.WaitConnectedAsync();
        var direct = new Uri(appliance.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://127", StringComparison.Ordinal)));

        using var directClient = new HttpClient { BaseAddress = direct };
        using var relayClient = relay.CreateClient();
        var (directP50, directP99, directRps) = await LatencyAsync(directClient, "/healthz");
        var (tunnelP50, tunnelP99, tunnelRps) = await LatencyAsync(relayClient, "/cam/healthz");
        output.WriteLine($"small request direct: p50 {directP50:0.000} ms, p99 {directP99:0.000} ms, {directRps:0} req/s (sequential)");
        output.WriteLine($"small request tunnel: p50 {tunnelP50:0.000} ms, p99 {tunnelP99:0.000} ms, {tunnelRps:0} req/s (sequential)");
        output.WriteLine($"tunnel p50 overhead: {tunnelP50 - directP50:0.000} ms");

        foreach (var viewers in new[] { 1, 10, 50 })
        {
            using var cancel = new CancellationTokenSource();
            var clients = Enumerable.Range(0, viewers).Select(_ => relay.CreateClient()).ToList();
            var readers = clients.Select(c => Task.Run(() => EndToEndTests.ReadFramesAsync(c, int.MaxValue, cancel.Token))).ToList();
            await Task.Delay(2000);
            var before = appliance.Tunnel.BytesSent;
            var stopwatch = Stopwatch.StartNew();
            await Task.Delay(5000);
            var bytes = appliance.Tunnel.BytesSent - before;
            output.WriteLine($"uplink with {viewers,2} viewers: {bytes / stopwatch.Elapsed.TotalSeconds / 1024:0} KiB/s");
            await cancel.CancelAsync();
            await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
            clients.ForEach(c => c.Dispose());
            await Task.Delay(1500);
        }
    }

    private static async Task<(double P50, double P99, double Rps)> LatencyAsync(HttpClient client, string path)
    {
        for (var i = 0; i < 200; i++)
        {
            (await client.GetAsync(path)).Dispose();
        }

        var samples = new List<double>(2000);
        var total = Stopwatch.StartNew();
        for (var i = 0; i < 2000; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync(path);
            await response.Content.ReadAsByteArrayAsync();
            samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        samples.Sort();
        return (samples[samples.Count / 2], samples[(int)(samples.Count * 0.99)], samples.Count / total.Elapsed.TotalSeconds);
    }
}
