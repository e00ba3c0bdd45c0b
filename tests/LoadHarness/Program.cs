using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LoadHarness;

/// <summary>Many MJPEG viewers against a real appliance process; see README.md.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var options = Options.Parse(args);
        var capIndex = Array.IndexOf(args, "--fps-cap");
        if (capIndex >= 0 && capIndex + 1 < args.Length)
        {
            StreamPath = $"stream?fps={int.Parse(args[capIndex + 1], CultureInfo.InvariantCulture)}";
        }

        var port = FreePort();
        using var appliance = StartAppliance(options, port);
        var baseUri = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 10_000, UseCookies = false }) { BaseAddress = baseUri, Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            await WaitHealthyAsync(http, TimeSpan.FromSeconds(30));
            Console.WriteLine($"appliance pid {appliance.Id} on {baseUri}, {options.Width}x{options.Height} @ {options.Fps} fps");

            // Warm up with one viewer (JIT, pools), then measure the idle baseline.
            await RunPhaseAsync(http, options, port, viewers: 1, stalled: 0, TimeSpan.FromSeconds(3), appliance.Id);
            await Task.Delay(2000);
            var idle = Proc.Sample(appliance.Id);
            var one = await RunPhaseAsync(http, options, port, 1, 0, TimeSpan.FromSeconds(options.Seconds), appliance.Id);
            var half = await RunPhaseAsync(http, options, port, options.Viewers / 2, 0, TimeSpan.FromSeconds(options.Seconds), appliance.Id);
            var many = await RunPhaseAsync(http, options, port, options.Viewers, 0, TimeSpan.FromSeconds(options.Seconds), appliance.Id);
            var withStalled = await RunPhaseAsync(http, options, port, options.Viewers, options.Stalled, TimeSpan.FromSeconds(options.Seconds), appliance.Id);

            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idle: RSS {idle.RssKb / 1024.0:F1} MB (anonymous {idle.AnonKb / 1024.0:F1} MB)"));
            Console.WriteLine("| phase | viewers | stalled | per-viewer fps min / median / mean | min % of source fps | appliance CPU (cores) | RSS MB | anon RSS MB | threads |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var phase in new[] { one, half, many, withStalled })
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {phase.Name} | {phase.Viewers} | {phase.Stalled} | {phase.Fps.Min():F1} / {Median(phase.Fps):F1} / {phase.Fps.Average():F1} | {100 * phase.Fps.Min() / options.Fps:F1}% | {phase.CpuCores:F2} | {phase.RssKbEnd / 1024.0:F1} | {phase.AnonKbEnd / 1024.0:F1} | {phase.Threads} |"));
            }

            // Between two loaded phases the GC's gen0 budget is already in use in both, so the slope is what each
            // extra viewer keeps.
            var perViewer = (many.RssKbEnd - half.RssKbEnd) / (double)(many.Viewers - half.Viewers);
            var perViewerAnon = (many.AnonKbEnd - half.AnonKbEnd) / (double)(many.Viewers - half.Viewers);
            var perStalled = options.Stalled > 0 ? (withStalled.RssKbEnd - many.RssKbEnd) / (double)options.Stalled : 0;
            var fpsChange = withStalled.Fps.Average() - many.Fps.Average();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RSS growth per extra viewer ({half.Viewers}→{many.Viewers}): {perViewer:F1} KB (anonymous {perViewerAnon:F1} KB); per stalled viewer: {perStalled:F1} KB; readers' mean fps change with {options.Stalled} stalled: {fpsChange:+0.0;-0.0} fps"));
            return 0;
        }
        finally
        {
            appliance.Kill(entireProcessTree: true);
            await appliance.WaitForExitAsync();
        }
    }

    private sealed record Phase(string Name, int Viewers, int Stalled, double[] Fps, double CpuCores, long RssKbEnd, long AnonKbEnd, long Threads);

    private static async Task<Phase> RunPhaseAsync(HttpClient http, Options options, int port, int viewers, int stalled, TimeSpan duration, int pid)
    {
        using var stop = new CancellationTokenSource();
        var stalledSockets = new List<TcpClient>();
        for (var i = 0; i < stalled; i++)
        {
            // Asks for the stream, then never reads: the server's writes back up and stop.
            var socket = new TcpClient { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(IPAddress.Loopback, port);
            await socket.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /stream HTTP/1.1\r\nHost: load\r\n\r\n"));
            stalledSockets.Add(socket);
        }

        var counters = new long[viewers];
        var readers = Enumerable.Range(0, viewers).Select(i => ReadStreamAsync(http, counters, i, stop.Token)).ToArray();

        // Let every viewer get going (and stalled ones fill their buffers) before the window opens.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var start = counters.ToArray();
        var before = Proc.Sample(pid);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var after = Proc.Sample(pid);
        var end = counters.ToArray();
        var seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await Task.WhenAll(readers);
        foreach (var socket in stalledSockets)
        {
            socket.Dispose();
        }

        var fps = end.Zip(start, (e, s) => (e - s) / seconds).ToArray();
        var cpu = (after.CpuTicks - before.CpuTicks) / (double)Proc.TicksPerSecond / (after.At - before.At).TotalSeconds;
        var name = stalled > 0 ? "readers + stalled" : viewers == 1 ? "one viewer" : $"{viewers} viewers";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {viewers} viewers, {stalled} stalled, mean fps {fps.Average():F1}, cpu {cpu:F2} cores, rss {after.RssKb / 1024.0:F1} MB"));
        return new Phase(name, viewers, stalled, fps, cpu, after.RssKb, after.AnonKb, after.Threads);
    }

    /// <summary>The viewers' URL; <c>--fps-cap N</c> adds <c>?fps=N</c> (to tell connection overhead from the data path).</summary>
    private static string StreamPath = "stream";

    /// <summary>Counts multipart boundaries in the de-chunked body without parsing the parts.</summary>
    private static async Task ReadStreamAsync(HttpClient http, long[] counters, int index, CancellationToken token)
    {
        ReadOnlyMemory<byte> boundary = "\r\n--frame\r\n"u8.ToArray();
        var buffer = new byte[64 * 1024];
        try
        {
            using var response = await http.GetAsync(StreamPath, HttpCompletionOption.ResponseHeadersRead, token);
            await using var body = await response.Content.ReadAsStreamAsync(token);
            var carry = 0;
            while (!token.IsCancellationRequested)
            {
                var read = await body.ReadAsync(buffer.AsMemory(carry), token);
                if (read == 0)
                {
                    return;
                }

                var span = buffer.AsSpan(0, carry + read);
                var at = 0;
                int found;
                while ((found = span[at..].IndexOf(boundary.Span)) >= 0)
                {
                    Interlocked.Increment(ref counters[index]);
                    at += found + boundary.Length;
                }

                // Keep the tail in case a boundary straddles two reads.
                var keep = Math.Min(boundary.Length - 1, span.Length - at);
                span[^keep..].CopyTo(buffer);
                carry = keep;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
        }
    }

    private static Process StartAppliance(Options options, int port)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        var source = options.Realistic ? ["--Camera:Source=file", $"--Camera:File={MakeRealisticClip(options)}"] : new[] { "--Camera:Source=synthetic" };
        foreach (var argument in new[]
        {
            options.AppliancePath, $"--urls=http://127.0.0.1:{port}",
            $"--Camera:Width={options.Width}", $"--Camera:Height={options.Height}", $"--Camera:Fps={options.Fps}",
            $"--State:Directory={Directory.CreateTempSubdirectory("loadharness-").FullName}", "--Logging:LogLevel:Default=Warning",
            // Every viewer comes from 127.0.0.1: the per-address and total stream limits are raised to let them all in.
            $"--Web:MaxStreamsPerClient={options.Viewers + options.Stalled}", $"--Web:MaxStreams={options.Viewers + options.Stalled}",
        }.Concat(source))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["APPLIANCE_CONFIG_DIR"] = Directory.CreateTempSubdirectory("loadharness-etc-").FullName;
        if (options.Gen0Budget is { } gen0)
        {
            // As systemd/appliance.service runs it.
            start.Environment["DOTNET_GCgen0size"] = gen0;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the appliance");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine($"[appliance] {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[appliance] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// A camera-like clip: ffmpeg's testsrc2 with temporal sensor noise, so JPEGs are as large as a real camera's
    /// (about 100–200 KB at 720p) rather than the synthetic pattern's 25 KB.
    /// </summary>
    private static string MakeRealisticClip(Options options)
    {
        var path = Path.Combine(Path.GetTempPath(), $"loadharness-{options.Width}x{options.Height}.mjpeg");
        if (!File.Exists(path))
        {
            var ffmpeg = Process.Start("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", $"testsrc2=size={options.Width}x{options.Height}:rate={options.Fps}",
                "-t", "2", "-vf", "noise=alls=12:allf=t", "-q:v", "4", "-f", "mjpeg", path]);
            ffmpeg.WaitForExit();
            if (ffmpeg.ExitCode != 0)
            {
                throw new InvalidOperationException("ffmpeg could not make the realistic clip");
            }
        }

        var frames = 2 * options.Fps;
        Console.WriteLine($"realistic clip {path}: {new FileInfo(path).Length / frames / 1024} KB per frame on average");
        return path;
    }

    private static async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var response = await http.GetAsync("healthz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("the appliance did not become healthy");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }
}

/// <summary>CPU ticks and RSS of a process, read from /proc.</summary>
internal static class Proc
{
    public const int TicksPerSecond = 100; // USER_HZ on Linux

    public readonly record struct Reading(long CpuTicks, long RssKb, long AnonKb, long Threads, DateTime At);

    public static Reading Sample(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        var status = File.ReadAllLines($"/proc/{pid}/status");
        long Kb(string key) => long.Parse(status.First(l => l.StartsWith(key, StringComparison.Ordinal)).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return new Reading(ticks, Kb("VmRSS:"), Kb("RssAnon:"), Kb("Threads:"), DateTime.UtcNow);
    }
}

internal sealed record Options(int Viewers, int Stalled, int Seconds, int Width, int Height, int Fps, string AppliancePath, bool Realistic, string? Gen0Budget)
{
    public static Options Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var appliance = Get("--appliance", Path.Combine(root, "Appliance", "bin", "Release", "net10.0", "Appliance.dll"));
        var seconds = Math.Clamp(Int("--seconds", 20), 1, 300);
        return new Options(Math.Clamp(Int("--viewers", 100), 1, 1000), Math.Clamp(Int("--stalled", 10), 0, 200), seconds,
            Int("--width", 1280), Int("--height", 720), Int("--fps", 30), appliance, args.Contains("--realistic"),
            Get("--gen0", "0x200000") is "default" ? null : Get("--gen0", "0x200000"));
    }
}
