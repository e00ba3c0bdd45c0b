using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Relay.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Tests;

/// <summary>
/// On-demand measurements (Category=Load, not in the default run), side by side in one run: direct loopback to the
/// appliance, through our tunnel (relay + appliance on real Kestrel), and through <c>ssh -R</c> via a local OpenSSH
/// server; for scale, a plain extra hop through nginx (no tunnel) as well. Small-request latency, requests/s with 16 concurrent clients, bulk download throughput, and the bytes on
/// the appliance's uplink (TCP bytes acknowledged on its socket, from <c>ss</c>) with 1, 10 and 50 stream viewers.
/// Bounded in count and time. Needs root, openssh-server and nginx.
/// Run: dotnet test tests/Relay.Tests -c Release --filter Category=Load --logger "console;verbosity=detailed"
/// </summary>
[Trait("Category", "Load")]
public sealed partial class TunnelLoadMeasurements(ITestOutputHelper output)
{
    private const int LatencySamples = 2000;
    private const int ConcurrentClients = 16;
    private const int ConcurrentRequests = 8000;
    private const int SmallBlocks = 8;
    private const int BulkMebibytes = 256;
    private const int BulkRounds = 15;
    private static readonly TimeSpan BulkWarmUp = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan JitQuiet = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan JitSettleLimit = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan PhaseLimit = TimeSpan.FromSeconds(30);

    private sealed record Route(string Name, Uri Base, string Prefix, bool NeedsLogin);

    [Fact]
    public async Task Measure_DirectVsTunnelVsSshR()
    {
        Assert.True(SshReverseTunnel.IsAvailable, "needs root, /usr/sbin/sshd and /usr/bin/ssh (apt-get install openssh-server)");
        // 50 viewers from 127.0.0.1 (directly, through ssh and nginx): the per-address stream limits let them all in.
        await using var tunnelled = await RelayWithAppliance.StartAsync(["--Relay:MaxStreamsPerClient=100"], ["--Web:MaxStreamsPerClient=200", "--Web:MaxStreams=200"]);
        var (relay, appliance) = tunnelled;
        var direct = new Uri(appliance.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First(a => a.StartsWith("http://127", StringComparison.Ordinal)));
        await using var ssh = await SshReverseTunnel.StartAsync(direct.Port);
        Assert.True(NginxForwarder.IsAvailable, "needs /usr/sbin/nginx (apt-get install nginx)");
        await using var nginx = await NginxForwarder.StartAsync(direct.Port);

        // The appliance's tunnel socket: before any visitor connects, the only connection to the relay's port.
        var tunnelSockets = SocketBytes($"dport = :{relay.Port}");
        Assert.Single(tunnelSockets);
        var tunnelLocalPort = tunnelSockets.Keys.Single().Split(' ')[0].Split(':')[^1];

        Route[] paths =
        [
            new("direct", direct, "", false),
            new("tunnel", relay.BaseAddress, "/" + RelayServer.Name, true),
            new("ssh -R", new Uri($"http://127.0.0.1:{ssh.RemotePort}/"), "", false),
            new("nginx hop", new Uri($"http://127.0.0.1:{nginx.Port}/"), "", false),
        ];
        var rows = new List<string>();
        var clients = paths.ToDictionary(p => p.Name, CreateClient);

        // Small requests are measured after the same warm-up and JIT settling as the bulk rounds (right after start-up
        // they ran on code still being tiered up, the tunnel's path, which has the most code, the longest), and in
        // blocks taking the paths in turn, so a busy moment on the shared machine hits all paths alike.
        var settled = await SettleAsync(paths, clients);
        var (latency, rps) = await SmallRequestsAsync(paths, clients);
        var (bulk, jit) = await BulkAsync(paths, clients);
        foreach (var path in paths)
        {
            var (p50, p99) = latency[path.Name];
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {path.Name,-9} | {p50,8:0.000} | {p99,8:0.000} | {rps[path.Name],9:0} | {bulk[path.Name].Median,16:0} | {bulk[path.Name].Best,14:0} |"));
            clients[path.Name].Dispose();
        }

        output.WriteLine($"small request GET /healthz ({LatencySamples} sequential), {ConcurrentRequests} requests with {ConcurrentClients} concurrent clients, in {SmallBlocks} blocks per path taken in turn; " +
            $"bulk: {BulkRounds} rounds of one {BulkMebibytes} MiB download per path in turn, after {BulkWarmUp.TotalSeconds:0} s warm-up per path and until the JIT is quiet:");
        output.WriteLine("| path      | p50 (ms) | p99 (ms) | req/s c16 | bulk MB/s median | bulk MB/s best |");
        output.WriteLine("|-----------|----------|----------|-----------|------------------|----------------|");
        rows.ForEach(output.WriteLine);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tunnel p50 overhead {latency["tunnel"].P50 - latency["direct"].P50:0.000} ms (target ≤ 1 ms), ssh -R {latency["ssh -R"].P50 - latency["direct"].P50:0.000} ms; " +
            $"tunnel throughput (medians) {bulk["tunnel"].Median / bulk["direct"].Median:P0} of direct (target ≥ 50%), ssh -R {bulk["ssh -R"].Median / bulk["direct"].Median:P0}; " +
            $"best against best: tunnel {bulk["tunnel"].Best / bulk["direct"].Best:P0}, ssh -R {bulk["ssh -R"].Best / bulk["direct"].Best:P0}; " +
            $"median of each round's tunnel/direct: {RoundRatio("tunnel"):P0}, ssh -R {RoundRatio("ssh -R"):P0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"one plain extra hop (nginx, no tunnel): {bulk["nginx hop"].Median / bulk["direct"].Median:P0} of direct; " +
            $"the tunnel carries {bulk["tunnel"].Median / bulk["nginx hop"].Median:P0} of what that hop carries"));
        output.WriteLine("array pool: DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION=" +
            (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION") ?? "unset (default 32; relay.service: 512)"));
        output.WriteLine(settled);
        output.WriteLine(jit);

        double RoundRatio(string name) => LoadClients.Median(bulk[name].Rounds.Zip(bulk["direct"].Rounds, (path, plain) => path / plain));

        // Uplink with 1, 10, 50 viewers: bytes the appliance's side put on its connection (direct: all its sockets).
        (string Name, Route Path, string Filter)[] uplinks =
        [
            ("direct", paths[0], $"sport = :{direct.Port}"),
            ("tunnel", paths[1], $"dport = :{relay.Port} and sport = :{tunnelLocalPort}"),
            ("ssh -R", paths[2], $"dport = :{ssh.SshdPort}"),
        ];
        output.WriteLine("uplink bytes/s on the appliance's side with N stream viewers (320x240 synthetic, 30 fps), 5 s window:");
        output.WriteLine("| path    | 1 viewer | 10 viewers | 50 viewers | 50/1 ratio | slowest viewer got |");
        output.WriteLine("|---------|----------|------------|------------|------------|--------------------|");
        var ratios = new Dictionary<string, double>();
        foreach (var (name, path, filter) in uplinks)
        {
            var perViewerCount = new List<double>();
            string slowest = "";
            foreach (var viewers in new[] { 1, 10, 50 })
            {
                var (bytesPerSecond, slowestViewer) = await UplinkAsync(path, filter, viewers);
                perViewerCount.Add(bytesPerSecond);
                slowest = string.Create(CultureInfo.InvariantCulture, $"{slowestViewer / 1024:0} KiB/s");
            }

            ratios[name] = perViewerCount[2] / perViewerCount[0];
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name,-7} | {Kib(perViewerCount[0]),8} | {Kib(perViewerCount[1]),10} | {Kib(perViewerCount[2]),10} | {ratios[name],10:0.00} | {slowest,18} |"));
        }

        output.WriteLine($"tunnel uplink 50 viewers / 1 viewer = {ratios["tunnel"]:0.00} (target ≤ 1.2)");
        Assert.True(ratios["tunnel"] <= 1.2, $"fan-out: the uplink grew {ratios["tunnel"]:0.00}× from 1 to 50 viewers");
    }

    private static string Kib(double bytesPerSecond) => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond / 1024:0} KiB");

    private static HttpClient CreateClient(Route path) => LoadClients.Create(path.Base, path.NeedsLogin);

    /// <summary>
    /// Every path gets the same warm-up (small requests and short downloads), then all are kept busy until the JIT
    /// has compiled nothing for <see cref="JitQuiet"/>; says how long that took.
    /// </summary>
    private static async Task<string> SettleAsync(Route[] paths, Dictionary<string, HttpClient> clients)
    {
        var settling = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var compiled = JitInfo.GetCompiledMethodCount();
        while (quiet.Elapsed < JitQuiet && settling.Elapsed < JitSettleLimit)
        {
            foreach (var path in paths)
            {
                var client = clients[path.Name];
                for (var i = 0; i < 100; i++)
                {
                    using var response = await client.GetAsync(path.Prefix + "/healthz");
                    response.EnsureSuccessStatusCode();
                    await response.Content.ReadAsByteArrayAsync();
                }

                await RequestsAsync(client, path.Prefix + "/healthz", 200);
                using var bulk = await client.GetAsync(path.Prefix + "/test/bulk?mib=2");
                bulk.EnsureSuccessStatusCode();
            }

            if (JitInfo.GetCompiledMethodCount() != compiled)
            {
                compiled = JitInfo.GetCompiledMethodCount();
                quiet.Restart();
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"small requests: JIT settled after {settling.Elapsed.TotalSeconds:0} s of warm-up ({(quiet.Elapsed >= JitQuiet ? "quiet" : "limit reached")})");
    }

    /// <summary>
    /// p50/p99 of <see cref="LatencySamples"/> sequential requests and requests/s of <see cref="ConcurrentRequests"/>
    /// with <see cref="ConcurrentClients"/> clients per path, each in <see cref="SmallBlocks"/> blocks, the paths in turn.
    /// </summary>
    private static async Task<(Dictionary<string, (double P50, double P99)> Latency, Dictionary<string, double> Rps)> SmallRequestsAsync(
        Route[] paths, Dictionary<string, HttpClient> clients)
    {
        var samples = paths.ToDictionary(p => p.Name, _ => new List<double>(LatencySamples));
        var spent = paths.ToDictionary(p => p.Name, _ => TimeSpan.Zero);
        for (var block = 0; block < SmallBlocks; block++)
        {
            foreach (var path in paths)
            {
                var mine = samples[path.Name];
                var target = LatencySamples * (block + 1) / SmallBlocks;
                var stopwatch = Stopwatch.StartNew();
                while (mine.Count < target && spent[path.Name] + stopwatch.Elapsed < PhaseLimit)
                {
                    var started = Stopwatch.GetTimestamp();
                    using var response = await clients[path.Name].GetAsync(path.Prefix + "/healthz");
                    await response.Content.ReadAsByteArrayAsync();
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }

                spent[path.Name] += stopwatch.Elapsed;
            }
        }

        var done = paths.ToDictionary(p => p.Name, _ => 0);
        var busy = paths.ToDictionary(p => p.Name, _ => TimeSpan.Zero);
        for (var block = 0; block < SmallBlocks; block++)
        {
            foreach (var path in paths)
            {
                if (busy[path.Name] >= PhaseLimit)
                {
                    continue;
                }

                var stopwatch = Stopwatch.StartNew();
                done[path.Name] += await RequestsAsync(clients[path.Name], path.Prefix + "/healthz", ConcurrentRequests / SmallBlocks);
                busy[path.Name] += stopwatch.Elapsed;
            }
        }

        var latency = samples.ToDictionary(s => s.Key, s =>
        {
            s.Value.Sort();
            return (s.Value[s.Value.Count / 2], s.Value[(int)(s.Value.Count * 0.99)]);
        });
        return (latency, done.ToDictionary(d => d.Key, d => d.Value / busy[d.Key].TotalSeconds));
    }

    /// <summary><paramref name="requests"/> GETs from <see cref="ConcurrentClients"/> concurrent clients; how many completed.</summary>
    private static async Task<int> RequestsAsync(HttpClient client, string path, int requests)
    {
        var remaining = requests;
        var done = 0;
        var stopwatch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, ConcurrentClients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0 && stopwatch.Elapsed < PhaseLimit)
            {
                using var response = await client.GetAsync(path);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                Interlocked.Increment(ref done);
            }
        }));
        await Task.WhenAll(workers);
        return done;
    }


    /// <summary>
    /// Decimal MB/s per path: median, best and every one of <see cref="BulkRounds"/> rounds, each one 256 MiB download over
    /// every path in turn, so a busy moment on the shared machine hits all paths alike. Before that, every path gets
    /// the same warm-up, and all are kept busy until the JIT is quiet, so none is measured while code is still being
    /// compiled; the second string says how long that took and what the JIT still did during the rounds.
    /// </summary>
    private static async Task<(Dictionary<string, (double Median, double Best, List<double> Rounds)> Rates, string Jit)> BulkAsync(
        Route[] paths, Dictionary<string, HttpClient> clients)
    {
        var buffer = new byte[65536];
        foreach (var path in paths)
        {
            var warmUp = Stopwatch.StartNew();
            for (var i = 0; i < 100 && warmUp.Elapsed < BulkWarmUp; i++)
            {
                await DownloadAsync(path, 8);
            }
        }

        // Tiered compilation goes on in the background long after the first downloads (on this machine about 50 s and
        // 9 s of JIT time in the test host): keep every path busy until no method has been compiled for JitQuiet, so
        // the rounds measure steady-state code. The JIT work that still falls into the rounds is reported.
        var settling = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var compiled = JitInfo.GetCompiledMethodCount();
        while (quiet.Elapsed < JitQuiet && settling.Elapsed < JitSettleLimit)
        {
            foreach (var path in paths)
            {
                await DownloadAsync(path, 2);
            }

            if (JitInfo.GetCompiledMethodCount() != compiled)
            {
                compiled = JitInfo.GetCompiledMethodCount();
                quiet.Restart();
            }
        }

        var jitBefore = (Methods: JitInfo.GetCompiledMethodCount(), Time: JitInfo.GetCompilationTime());
        var rates = paths.ToDictionary(p => p.Name, _ => new List<double>());
        for (var round = 0; round < BulkRounds; round++)
        {
            foreach (var path in paths)
            {
                var stopwatch = Stopwatch.StartNew();
                var received = await DownloadAsync(path, BulkMebibytes);
                rates[path.Name].Add(received / stopwatch.Elapsed.TotalSeconds / 1e6);
            }
        }

        var jit = string.Create(CultureInfo.InvariantCulture,
            $"JIT settled after {settling.Elapsed.TotalSeconds:0} s more warm-up ({(quiet.Elapsed >= JitQuiet ? "quiet" : "limit reached")}); " +
            $"during the rounds it compiled {JitInfo.GetCompiledMethodCount() - jitBefore.Methods} methods in " +
            $"{(JitInfo.GetCompilationTime() - jitBefore.Time).TotalMilliseconds:0} ms");
        return (rates.ToDictionary(r => r.Key, r => (LoadClients.Median(r.Value), r.Value.Max(), r.Value)), jit);

        async Task<long> DownloadAsync(Route path, int mebibytes)
        {
            using var response = await clients[path.Name].GetAsync(
                $"{path.Prefix}/test/bulk?mib={mebibytes}", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            long received = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                received += n;
            }

            Assert.Equal(mebibytes * 1024L * 1024, received);
            return received;
        }
    }

    private async Task<(double BytesPerSecond, double SlowestViewerBytesPerSecond)> UplinkAsync(Route path, string socketFilter, int viewers)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new long[viewers];
        var clients = Enumerable.Range(0, viewers).Select(_ => CreateClient(path)).ToList();
        var readers = clients.Select((c, i) => Task.Run(() => ReadStreamAsync(c, path.Prefix + "/stream", received, i, cancel.Token))).ToList();
        await Task.Delay(2000); // all viewers connected and frames flowing
        var before = SocketBytes(socketFilter);
        var receivedBefore = received.ToArray();
        var stopwatch = Stopwatch.StartNew();
        await Task.Delay(5000);
        var after = SocketBytes(socketFilter);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var receivedAfter = received.ToArray();
        await cancel.CancelAsync();
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
        clients.ForEach(c => c.Dispose());
        await Task.Delay(1500); // the relay's upstream lingers 1 s in tests: start the next count from scratch

        var bytes = after.Sum(s => s.Value - before.GetValueOrDefault(s.Key));
        var slowest = Enumerable.Range(0, viewers).Min(i => receivedAfter[i] - receivedBefore[i]) / seconds;
        Assert.True(slowest > 0, $"{path.Name}: a viewer of {viewers} received nothing");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {path.Name} {viewers} viewers: {after.Count} uplink socket(s), {bytes} bytes in {seconds:0.00} s"));
        return (bytes / seconds, slowest);
    }

    private static async Task ReadStreamAsync(HttpClient client, string path, long[] received, int index, CancellationToken cancel)
    {
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancel);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancel);
        var buffer = new byte[65536];
        int n;
        while ((n = await body.ReadAsync(buffer, cancel)) > 0)
        {
            Interlocked.Add(ref received[index], n);
        }
    }

    /// <summary>TCP bytes acknowledged per established socket matching an <c>ss</c> filter, keyed by "local peer".</summary>
    private static Dictionary<string, long> SocketBytes(string filter)
    {
        var info = new ProcessStartInfo("ss") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-tinH", "state", "established", filter })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var sockets = new Dictionary<string, long>();
        string? current = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }

            if (!char.IsWhiteSpace(line[0]))
            {
                // "Recv-Q Send-Q Local:Port Peer:Port" (state omitted when filtered by state)
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                current = $"{fields[^2]} {fields[^1]}";
                sockets[current] = 0;
            }
            else if (current is not null && BytesAcked().Match(line) is { Success: true } match)
            {
                sockets[current] = long.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
            }
        }

        return sockets;
    }

    [GeneratedRegex(@"bytes_acked:(\d+)")]
    private static partial Regex BytesAcked();
}
