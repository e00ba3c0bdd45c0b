using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Tests.Shared;

// Load harness for POST /api/ratings (not part of the default test run):
//   dotnet run -c Release --project tests/ScoringLoad -- [workers=16] [seconds=15]
// The appliance runs as its own process (so its RSS is its own); the instant scorer and the fake WeChat run here.
// Bounded: at most `seconds` of load and 20,000 ratings per phase, loopback only.
var workers = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 16;
var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 15;
const int MaxRatings = 20_000;

await using var scorer = await TestScorer.StartAsync();
scorer.Record = false;
await using var wechat = await FakeWeComServer.StartAsync();
var clip = FakeWeComServer.SpeexClip(350); // 7 s of jssdk Speex, 21,000 bytes
wechat.Voices["clip"] = new FakeVoice(clip);
wechat.ExtraTokens["direct"] = 0;
var meta = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"item":{"audioChannel":1,"audioFormat":"speex","audioSamplerate":16000,"quality":7,"reftext":"hello hello hello hello","type":"readaloud"}}"""));

var port = FreePort();
var etc = Directory.CreateTempSubdirectory("scoring-load-etc-").FullName;
var state = Directory.CreateTempSubdirectory("scoring-load-state-").FullName;
var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "Appliance.dll"), $"--urls=http://127.0.0.1:{port}", $"--State:Directory={state}",
             "--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=5", "--Logging:LogLevel:Default=Warning",
             $"--Scoring:ScorerUrl={scorer.Url}", $"--Scoring:WeChatApiBaseUrl={wechat.BaseAddress}",
             $"--Scoring:OfficialAppId={FakeWeComServer.AppId}", $"--Scoring:OfficialAppSecret={FakeWeComServer.AppSecret}",
             $"--Scoring:AppId={TestScorer.AppId}", $"--Scoring:Secret={TestScorer.Secret}", "--Scoring:MaxConcurrent=64"])
{
    start.ArgumentList.Add(a);
}

start.Environment["APPLIANCE_CONFIG_DIR"] = etc;
using var appliance = Process.Start(start)!;
_ = appliance.StandardOutput.ReadToEndAsync();
_ = appliance.StandardError.ReadToEndAsync();
var baseUri = new Uri($"http://127.0.0.1:{port}/");
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
for (var i = 0; i < 100 && !await Ready(); i++)
{
    await Task.Delay(100);
}

try
{
    Console.WriteLine($"ScoringLoad: {workers} workers, {seconds} s per phase, 7 s Speex clip (350 frames), instant scorer, {Environment.ProcessorCount} cores");

    // Baseline: the same work without the proxy (download from the fake, stream to the scorer, read the answer).
    using var direct = new HttpClient { BaseAddress = wechat.BaseAddress };
    await RunAsync("warm-up direct", TimeSpan.FromSeconds(2), () => DirectAsync(direct));
    var baseline = await RunAsync("direct (no proxy)", TimeSpan.FromSeconds(seconds), () => DirectAsync(direct));

    await RunAsync("warm-up proxy", TimeSpan.FromSeconds(3), ProxyAsync);
    var rss = new List<(double At, long Kb)>();
    using var sampling = new CancellationTokenSource();
    var clock = Stopwatch.StartNew();
    var sampler = Task.Run(async () =>
    {
        while (!sampling.IsCancellationRequested)
        {
            rss.Add((clock.Elapsed.TotalSeconds, RssKb(appliance.Id)));
            try
            {
                await Task.Delay(1000, sampling.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    });
    var proxied = await RunAsync("through the proxy", TimeSpan.FromSeconds(seconds), ProxyAsync);
    await sampling.CancelAsync();
    await sampler;

    Console.WriteLine();
    Console.WriteLine($"added latency (proxy − direct): p50 {proxied.P50 - baseline.P50:0.00} ms, p99 {proxied.P99 - baseline.P99:0.00} ms");
    Console.WriteLine("appliance RSS (MB) once a second under load: " + string.Join(" ", rss.Select(r => (r.Kb / 1024.0).ToString("0", CultureInfo.InvariantCulture))));
    var tail = rss.Skip(rss.Count / 2).Select(r => r.Kb).ToList();
    Console.WriteLine($"appliance RSS: first {rss[0].Kb / 1024.0:0} MB, max {rss.Max(r => r.Kb) / 1024.0:0} MB, second-half spread {(tail.Max() - tail.Min()) / 1024.0:0.0} MB");
}
finally
{
    appliance.Kill();
    await appliance.WaitForExitAsync();
}

async Task<bool> Ready()
{
    try
    {
        using var response = await http.GetAsync("healthz");
        return true;
    }
    catch (HttpRequestException)
    {
        return false;
    }
}

async Task<bool> ProxyAsync()
{
    using var content = new StringContent(new JsonObject { ["mediaId"] = "clip", ["meta"] = meta }.ToJsonString(), Encoding.UTF8, "application/json");
    using var response = await http.PostAsync("api/ratings", content);
    var body = await response.Content.ReadAsByteArrayAsync();
    return response.StatusCode == HttpStatusCode.OK && body.AsSpan().StartsWith("{\"status\":0,"u8);
}

async Task<bool> DirectAsync(HttpClient client)
{
    var bytes = await client.GetByteArrayAsync("cgi-bin/media/get/jssdk?access_token=direct&media_id=clip");
    using var socket = new ClientWebSocket();
    await socket.ConnectAsync(scorer.Url, CancellationToken.None);
    var metaBytes = Encoding.ASCII.GetBytes(meta);
    var first = new byte[4 + metaBytes.Length];
    BinaryPrimitives.WriteUInt32BigEndian(first, (uint)metaBytes.Length);
    metaBytes.CopyTo(first, 4);
    await socket.SendAsync(first, WebSocketMessageType.Binary, true, CancellationToken.None);
    var framed = new byte[bytes.Length / 60 * 64];
    for (var i = 0; i < bytes.Length / 60; i++)
    {
        BinaryPrimitives.WriteInt32LittleEndian(framed.AsSpan(i * 64), 60);
        bytes.AsSpan(i * 60, 60).CopyTo(framed.AsSpan(i * 64 + 4));
    }

    await socket.SendAsync(framed, WebSocketMessageType.Binary, true, CancellationToken.None);
    await socket.SendAsync("EOS"u8.ToArray(), WebSocketMessageType.Binary, true, CancellationToken.None);
    var buffer = new byte[16 * 1024];
    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    return result.Count > 4;
}

async Task<Result> RunAsync(string name, TimeSpan duration, Func<Task<bool>> one)
{
    var latencies = new List<double>[workers];
    var failures = 0;
    var count = 0;
    var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = [];
        while (Stopwatch.GetTimestamp() < until && Interlocked.Increment(ref count) <= MaxRatings)
        {
            var t0 = Stopwatch.GetTimestamp();
            var ok = false;
            try
            {
                ok = await one();
            }
            catch (Exception ex) when (ex is HttpRequestException or WebSocketException or TaskCanceledException)
            {
            }

            mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (!ok)
            {
                Interlocked.Increment(ref failures);
            }
        }
    })));
    var elapsed = watch.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    var result = new Result(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    Console.WriteLine($"{name,-20} {all.Length,6} ratings in {elapsed:0.0} s = {result.PerSecond,7:0.0}/s, failures {failures}, latency p50 {result.P50:0.00} ms, p99 {result.P99:0.00} ms, max {all.LastOrDefault():0.0} ms");
    return result;
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static long RssKb(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        }
    }

    return 0;
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

internal sealed record Result(double PerSecond, double P50, double P99);
