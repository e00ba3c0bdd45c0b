using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Tests;

/// <summary>
/// On-demand (Category=Load): what one small forwarded request costs the machine, counted rather than timed, so the
/// figure holds on a busy machine: CPU time of this process (client, relay and appliance all run in it) and bytes
/// allocated, per GET /healthz, directly and through the tunnel, in interleaved blocks; the tunnel's extra is the
/// relay's forwarding (plus the tunnel's framing). Sequential and with 16 concurrent clients; then CPU per MiB of a
/// bulk download the same way.
/// Run: dotnet test tests/Relay.Tests -c Release --filter "FullyQualifiedName~ForwardingCostMeasurements" --logger "console;verbosity=detailed"
/// </summary>
[Trait("Category", "Load")]
[Collection(TimingSensitive.Name)]
public sealed class ForwardingCostMeasurements(ITestOutputHelper output)
{
    private const int BlockRequests = 1000;
    private const int Blocks = 7;
    private const int ConcurrentClients = 16;
    private const int BulkMebibytes = 64;
    private static readonly TimeSpan PhaseLimit = TimeSpan.FromSeconds(60);
    private static long _exceptions;

    [Fact]
    public async Task Measure_CpuAndAllocationsPerRequest_DirectVsTunnel()
    {
        AppDomain.CurrentDomain.FirstChanceException += (_, _) => Interlocked.Increment(ref _exceptions);
        await using var tunnelled = await RelayWithAppliance.StartAsync();
        var (relay, appliance) = tunnelled;
        var direct = new Uri(appliance.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First(a => a.StartsWith("http://127", StringComparison.Ordinal)));
        using var directClient = LoadClients.Create(direct, login: false);
        using var tunnelClient = LoadClients.Create(relay.BaseAddress, login: true);
        (string Name, HttpClient Client, string Path)[] paths =
        [
            ("direct", directClient, "/healthz"),
            ("tunnel", tunnelClient, "/" + RelayServer.Name + "/healthz"),
        ];

        // Warm-up until tiered compilation is quiet on both paths, so blocks count steady-state code.
        var settle = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        while (quiet.Elapsed < TimeSpan.FromSeconds(3) && settle.Elapsed < TimeSpan.FromSeconds(90))
        {
            foreach (var (_, client, path) in paths)
            {
                await RunAsync(client, path, 200, 1);
                await RunAsync(client, path, 200, ConcurrentClients);
                using var download = await client.GetAsync(path.Replace("/healthz", "/test/bulk?mib=2", StringComparison.Ordinal));
                download.EnsureSuccessStatusCode();
            }

            if (System.Runtime.JitInfo.GetCompiledMethodCount() != compiled)
            {
                compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
                quiet.Restart();
            }
        }

        output.WriteLine("array pool: DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION=" +
            (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION") ?? "unset (default 32; relay.service: 512)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up {settle.Elapsed.TotalSeconds:0} s; {BlockRequests} requests a block, {Blocks} blocks per path and concurrency, interleaved; medians over blocks"));
        output.WriteLine("| path   | clients | CPU µs/req | alloc B/req | exceptions/req | req/s (wall, loaded machine) |");
        output.WriteLine("|--------|---------|------------|-------------|----------------|------------------------------|");
        var cpu = new Dictionary<(string, int), double>();
        foreach (var concurrency in new[] { 1, ConcurrentClients })
        {
            var samples = paths.ToDictionary(p => p.Name, _ => new List<(double Cpu, double Alloc, double Exceptions, double Rate)>());
            for (var block = 0; block < Blocks; block++)
            {
                foreach (var (name, client, path) in paths)
                {
                    samples[name].Add(await RunAsync(client, path, BlockRequests, concurrency));
                }
            }

            foreach (var (name, _, _) in paths)
            {
                var s = samples[name];
                cpu[(name, concurrency)] = LoadClients.Median(s.Select(x => x.Cpu));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name,-6} | {concurrency,7} | {LoadClients.Median(s.Select(x => x.Cpu)),10:0.0} | {LoadClients.Median(s.Select(x => x.Alloc)),11:0} | {LoadClients.Median(s.Select(x => x.Exceptions)),14:0.00} | {LoadClients.Median(s.Select(x => x.Rate)),28:0} |"));
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tunnel extra CPU per request: {cpu[("tunnel", 1)] - cpu[("direct", 1)]:0.0} µs sequential, {cpu[("tunnel", ConcurrentClients)] - cpu[("direct", ConcurrentClients)]:0.0} µs with {ConcurrentClients} clients"));

        // Bulk: CPU per MiB downloaded, the same interleaving; on a machine where every path is CPU-bound (client,
        // relay and appliance share 2 cores), direct ÷ tunnel CPU per MiB is about what the tunnel's share of direct
        // throughput can be, whatever the load.
        output.WriteLine($"bulk: {BulkMebibytes} MiB downloads, {Blocks} per path, interleaved; medians");
        output.WriteLine("| path   | CPU ms/MiB | alloc B/MiB | MB/s (wall, loaded machine) |");
        output.WriteLine("|--------|------------|-------------|-----------------------------|");
        var bulk = paths.ToDictionary(p => p.Name, _ => new List<(double Cpu, double Alloc, double Rate)>());
        for (var block = 0; block < Blocks; block++)
        {
            foreach (var (name, client, path) in paths)
            {
                bulk[name].Add(await DownloadAsync(client, path.Replace("/healthz", "/test/bulk", StringComparison.Ordinal)));
            }
        }

        foreach (var (name, _, _) in paths)
        {
            var b = bulk[name];
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name,-6} | {LoadClients.Median(b.Select(x => x.Cpu)),10:0.00} | {LoadClients.Median(b.Select(x => x.Alloc)),11:0} | {LoadClients.Median(b.Select(x => x.Rate)),27:0} |"));
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bulk CPU per MiB direct ÷ tunnel: {LoadClients.Median(bulk["direct"].Select(x => x.Cpu)) / LoadClients.Median(bulk["tunnel"].Select(x => x.Cpu)):P0}; " +
            $"median of each block's tunnel ÷ direct MB/s: {LoadClients.Median(bulk["tunnel"].Zip(bulk["direct"], (t, d) => t.Rate / d.Rate)):P0}"));
        Assert.True(cpu[("tunnel", 1)] > 0 && cpu[("direct", 1)] > 0);
    }

    /// <summary>CPU ms and bytes allocated (whole process) per MiB of one download, and decimal MB per wall-clock second.</summary>
    private static async Task<(double Cpu, double Alloc, double Rate)> DownloadAsync(HttpClient client, string path)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        var wall = Stopwatch.StartNew();
        using var response = await client.GetAsync($"{path}?mib={BulkMebibytes}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[65536];
        long received = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            received += n;
        }

        var seconds = wall.Elapsed.TotalSeconds;
        process.Refresh();
        Assert.Equal(BulkMebibytes * 1024L * 1024, received);
        return ((process.TotalProcessorTime - cpuBefore).TotalMilliseconds / BulkMebibytes,
            (double)(GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / BulkMebibytes, received / seconds / 1e6);
    }

    /// <summary>CPU µs and bytes allocated (whole process) per request, and requests per wall-clock second.</summary>
    private static async Task<(double Cpu, double Alloc, double Exceptions, double Rate)> RunAsync(HttpClient client, string path, int requests, int concurrency)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        var exceptionsBefore = Interlocked.Read(ref _exceptions);
        var wall = Stopwatch.StartNew();
        var remaining = requests;
        var done = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0 && wall.Elapsed < PhaseLimit)
            {
                using var response = await client.GetAsync(path);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                Interlocked.Increment(ref done);
            }
        })));
        var seconds = wall.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds;
        var alloc = GC.GetTotalAllocatedBytes(precise: true) - allocBefore;
        Assert.Equal(requests, done);
        var exceptions = Interlocked.Read(ref _exceptions) - exceptionsBefore;
        return (cpu / done, (double)alloc / done, (double)exceptions / done, done / seconds);
    }
}
