using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Appliance.Streaming;
using Appliance.Tests.Infrastructure;
using Camera;
using Camera.Jpeg;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Appliance.Tests.Streaming;

[Collection(TimingSensitive.Name)]
public sealed class StreamTests
{
    [Fact]
    public async Task Stream_Ffmpeg_Decodes30ConsecutiveFrames()
    {
        await using var server = await ApplianceServer.StartAsync();
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("ffmpeg"),
            ["-hide_banner", "-loglevel", "error", "-i", new Uri(server.BaseAddress, "/stream").ToString(), "-frames:v", "30", "-f", "framemd5", "-"],
            TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.Stderr);
        var frames = result.Stdout.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        Assert.Equal(30, frames.Length);
        // 320x240 4:2:0 decodes to 115200 bytes per frame; the moving pattern makes the frames differ.
        Assert.All(frames, f => Assert.Contains(" 115200, ", f, StringComparison.Ordinal));
        Assert.True(frames.Select(f => f.Split(',')[^1]).Distinct().Count() > 10);
    }

    [Fact]
    public async Task Server_SocketWriteBuffer_IsFourSlicesNotTheDefault64KiB()
    {
        await using var server = await ApplianceServer.StartAsync();
        var sockets = server.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        Assert.Equal(4 * MjpegStreamWriter.SliceLength, sockets.MaxWriteBufferSize);
    }

    [Fact]
    public async Task Snapshot_Ffprobe_SeesConfiguredResolution()
    {
        await using var server = await ApplianceServer.StartAsync("--Camera:Width=640", "--Camera:Height=360");
        var result = await ExternalProcess.RunAsync(ExternalProcess.Require("ffprobe"),
            ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", new Uri(server.BaseAddress, "/snapshot").ToString()],
            TimeSpan.FromSeconds(30));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("mjpeg,640,360", result.Stdout.Trim());
    }

    [Fact]
    public async Task Snapshot_IsFreshJpegWithHeaders()
    {
        await using var server = await ApplianceServer.StartAsync("--Camera:IdleFps=1");
        using var client = server.CreateClient();
        await Task.Delay(1500); // idle capture: the newest frame is older than one interval at 30 fps

        var response = await client.GetAsync("/snapshot");
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        var stamp = double.Parse(response.Headers.GetValues("X-Timestamp").Single(), CultureInfo.InvariantCulture);
        var age = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - stamp;
        Assert.InRange(age, -0.05, 1.0 / 30 + 0.25); // one interval plus transfer
        using var decoder = new JpegDecoder();
        decoder.DecodeRgb(body, out var w, out var h);
        Assert.Equal((320, 240), (w, h));
    }

    [Fact]
    public async Task Stream_Parts_HaveHeadersAndNextBoundaryRightAfterFrame()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        // At one frame a second, a boundary held back until the next frame would arrive about a second late.
        using var response = await client.GetAsync("/stream?fps=1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("multipart/x-mixed-replace", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        await using var body = await response.Content.ReadAsStreamAsync();

        var reader = new MultipartReader(body);
        for (var i = 0; i < 3; i++)
        {
            var part = await reader.ReadPartAsync();
            Assert.Equal("image/jpeg", part.Headers["Content-Type"]);
            Assert.Equal(part.Body.Length, int.Parse(part.Headers["Content-Length"], CultureInfo.InvariantCulture));
            Assert.True(part.Headers.ContainsKey("X-Timestamp"));
            Assert.Null(JpegMarkers.Validate(part.Body));
            Assert.True(part.TrailerWait < TimeSpan.FromMilliseconds(400), $"the next boundary came {part.TrailerWait.TotalMilliseconds} ms after the frame");
        }
    }

    [Fact]
    public async Task Stream_FpsCap_LimitsThatViewerOnly()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        var hub = server.GetRequiredService<FrameHub>();
        var capped = CountFramesAsync(client, "/stream?fps=5", TimeSpan.FromSeconds(2), hub);
        var full = CountFramesAsync(client, "/stream", TimeSpan.FromSeconds(2), hub);
        await Task.WhenAll(capped, full);

        Assert.InRange((await capped).Frames, 8, 12);
        AssertKeptUp(await full, "full-rate viewer");
    }

    [Fact]
    public async Task Stop_WithAViewerReadingTheStream_ReturnsPromptlyAndTheStreamEnds()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (await body.ReadAsync(buffer) > 0)
            {
                streaming.TrySetResult();
            }
        });
        await streaming.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Without the stream ending by itself, the host waits for it until the token below (systemd: TimeoutStopSec).
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await server.StopAsync(timeout.Token);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2), $"stopping took {stopping.Elapsed.TotalSeconds:0.0} s with a viewer connected");

        // The response ends (a read returns 0), rather than the connection being aborted.
        await reading.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Stream_FpsCap_FirstFramesAreAnIntervalApartToo()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/stream?fps=1", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var reader = new MultipartReader(body);
        using var stuck = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var arrivals = new List<TimeSpan>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            await reader.ReadPartAsync(stuck.Token);
            arrivals.Add(clock.Elapsed);
        }

        // Only a lower bound: a loaded machine may deliver late, but never early. With the second frame right after
        // the first, the gap is one camera frame (33 ms).
        var gaps = arrivals.Zip(arrivals.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToArray();
        Assert.True(gaps.All(g => g >= 800), $"gaps between parts at ?fps=1: {string.Join(", ", gaps.Select(g => $"{g:0} ms"))}");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("abc")]
    [InlineData("1000")]
    [InlineData("121")]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("1.5")]
    public async Task Stream_BadFps_Is400(string fps)
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        var response = await client.GetAsync($"/stream?fps={fps}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("fps", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("120")]
    public async Task Stream_FpsAtTheLimits_Accepted(string fps)
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync($"/stream?fps={fps}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var part = await new MultipartReader(await response.Content.ReadAsStreamAsync()).ReadPartAsync(patience.Token);
        Assert.NotEmpty(part.Body);
    }

    [Fact]
    public async Task Stream_ViewerThatStopsReading_SkipsFramesAndDoesNotSlowOthers()
    {
        // Large frames so the stalled viewer's socket buffers (several MB on loopback) fill within seconds: a
        // camera-like clip (sensor noise, ~150 KB per 720p frame) replayed without any encoding cost.
        var clip = Path.Combine(Path.GetTempPath(), "appliance-tests-noisy-720p-q6.mjpeg");
        if (!File.Exists(clip))
        {
            var made = await ExternalProcess.RunAsync(ExternalProcess.Require("ffmpeg"),
                ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "1", "-vf", "noise=alls=12:allf=t",
                 "-q:v", "6", "-f", "mjpeg", clip + ".tmp"], TimeSpan.FromSeconds(60));
            Assert.True(made.ExitCode == 0, made.Stderr);
            File.Move(clip + ".tmp", clip, overwrite: true);
        }

        await using var server = await ApplianceServer.StartAsync("--Camera:Source=file", $"--Camera:File={clip}");
        using var stalled = new TcpClient();
        stalled.ReceiveBufferSize = 4096;
        await stalled.ConnectAsync(IPAddress.Loopback, server.BaseAddress.Port);
        await stalled.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));

        using var client = server.CreateClient();
        // Stalled = its frames-sent count stops moving (the kernel's buffers are full), having skipped frames.
        JsonNode stalledViewer;
        long previousSent = -1;
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await Task.Delay(1000);
            var viewers = JsonNode.Parse(await client.GetStringAsync("/api/status"))!["viewerDetails"]!.AsArray();
            stalledViewer = Assert.Single(viewers)!;
            var sent = (long)stalledViewer["framesSent"]!;
            if (sent == previousSent && (long)stalledViewer["framesDropped"]! > 0)
            {
                break;
            }

            previousSent = sent;
            Assert.True(DateTime.UtcNow < until, $"the stalled viewer never stalled: {stalledViewer.ToJsonString()}");
        }

        var sentWhenStalled = (long)stalledViewer["framesSent"]!;
        var reading = await CountFramesAsync(client, "/stream", TimeSpan.FromSeconds(2), server.GetRequiredService<FrameHub>());
        AssertKeptUp(reading, "reading viewer next to a stalled one");

        // The stalled one is still connected, and got at most the one frame that was being written when it stalled.
        var after = JsonNode.Parse(await client.GetStringAsync("/api/status"))!["viewerDetails"]!.AsArray().First(v => (long)v!["id"]! == (long)stalledViewer["id"]!)!;
        Assert.InRange((long)after["framesSent"]!, sentWhenStalled, sentWhenStalled + 1);
    }

    [Fact]
    public async Task Status_ReportsSourceResolutionFpsAndViewers()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        using var viewer = await client.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead);
        await Task.Delay(2500); // delivered fps is measured over the last two seconds

        var status = JsonNode.Parse(await client.GetStringAsync("/api/status"))!;
        Assert.Equal("synthetic", (string?)status["source"]);
        Assert.Equal("320x240", (string?)status["resolution"]);
        Assert.Equal(30, (int)status["configuredFps"]!);
        Assert.InRange((double)status["deliveredFps"]!, 20, 40);
        Assert.Equal(1, (int)status["viewers"]!);
        Assert.True((double)status["uptimeSeconds"]! >= 0);
        Assert.Equal("live", (string?)status["state"]);
    }

    [Fact]
    public async Task Healthz_FramesFlowing_Is200()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        await Task.Delay(300);
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Snapshot_CameraWedgedWithoutAFrame_503WithRetryAfterAfterFiveSeconds()
    {
        // A driver call that never returns: no frame, and not even the "no camera" picture yet.
        var camera = new Appliance.Tests.Systemd.GatedFrameSource();
        camera.Hang();
        try
        {
            await using var server = await ApplianceServer.StartAsync(
                b => b.Services.AddSingleton(new FrameSourceFactory("v4l2", null, _ => camera)), "--Camera:Source=v4l2");
            using var client = server.CreateClient();

            var watch = System.Diagnostics.Stopwatch.StartNew();
            var response = await client.GetAsync("/snapshot");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
            Assert.Contains("/api/status", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.True(watch.Elapsed >= Appliance.Capture.SnapshotService.Timeout - TimeSpan.FromMilliseconds(200), $"answered after {watch.Elapsed}");
        }
        finally
        {
            camera.Unhang();
        }
    }

    [Fact]
    public async Task Stream_CameraLostAndBack_SameStreamShowsNoCameraThenTheCameraAgain()
    {
        var camera = new Appliance.Tests.Systemd.GatedFrameSource();
        camera.Flow();
        await using var server = await ApplianceServer.StartAsync(
            b => b.Services.AddSingleton(new FrameSourceFactory("v4l2", null, _ => camera)), "--Camera:Source=v4l2");
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var reader = new MultipartReader(body);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        using var decoder = new JpegDecoder();

        async Task<(int Width, int Height)> NextSizeAsync()
        {
            var part = await reader.ReadPartAsync(patience.Token);
            decoder.DecodeRgb(part.Body, out var width, out var height);
            return (width, height);
        }

        async Task WaitForSizeAsync((int, int) size, string what)
        {
            while (await NextSizeAsync() != size)
            {
                Assert.False(patience.IsCancellationRequested, $"no {what} on the open stream");
            }
        }

        await WaitForSizeAsync((32, 16), "camera frame");

        // The camera stops delivering: after the stall timeout the stream carries the "no camera" picture (the
        // configured 320x240), on the same connection; then the camera comes back and its frames follow.
        camera.Withhold();
        await WaitForSizeAsync((320, 240), "\"no camera\" picture");
        camera.Flow();
        await WaitForSizeAsync((32, 16), "camera frame after the camera came back");
    }

    [Fact]
    public async Task Healthz_CameraUnavailable_Is503WithReason()
    {
        // An rpicam command that dies at once: the source is unavailable and keeps being retried.
        await using var server = await ApplianceServer.StartAsync("--Camera:Source=rpicam", "--Camera:Command=echo no camera here >&2; exit 1");
        using var client = server.CreateClient();
        await Task.Delay(1500);
        var response = await client.GetAsync("/healthz");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{response.StatusCode}: {body} {await client.GetStringAsync("/api/status")}");
        Assert.Contains("exit code 1", body, StringComparison.Ordinal);

        // Viewers get the "no camera" picture at the configured size, marked for programs.
        var snapshot = await client.GetAsync("/snapshot");
        Assert.Equal(HttpStatusCode.OK, snapshot.StatusCode);
        Assert.Equal("unavailable", snapshot.Headers.GetValues("X-Camera-State").Single());
        using var decoder = new JpegDecoder();
        decoder.DecodeRgb(await snapshot.Content.ReadAsByteArrayAsync(), out var w, out var h);
        Assert.Equal((320, 240), (w, h));
    }

    /// <summary>
    /// A full-rate viewer got at least 75 % of the frames the camera published while it watched, and the camera ran at
    /// least at half its 30 fps: on a slow machine the source slows too, and only a viewer falling behind the source is
    /// the streaming code's fault.
    /// </summary>
    private static void AssertKeptUp((int Frames, long Published) window, string who)
    {
        Assert.True(window.Published >= 30, $"the camera published only {window.Published} frames in 2 s");
        Assert.True(window.Frames >= window.Published * 0.75, $"{who} got {window.Frames} of the {window.Published} frames published in 2 s");
    }

    /// <summary>
    /// Frames received in <paramref name="duration"/>, and how many the camera published in the same window. The window
    /// opens one second after the first frame: connecting, the first frame's latency and code still being compiled
    /// (slow on a busy machine, when this is the first test of the run) are not a frame rate.
    /// </summary>
    private static async Task<(int Frames, long Published)> CountFramesAsync(HttpClient client, string path, TimeSpan duration, FrameHub hub)
    {
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var reader = new MultipartReader(body);
        using (var firstFrame = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await reader.ReadPartAsync(firstFrame.Token);
        }

        // Cancelling a read would abort the response, so the settling second is measured between frames.
        var settling = System.Diagnostics.Stopwatch.StartNew();
        using (var stuck = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (settling.Elapsed < TimeSpan.FromSeconds(1))
            {
                await reader.ReadPartAsync(stuck.Token);
            }
        }

        using var cts = new CancellationTokenSource(duration);
        var publishedBefore = hub.FramesPublished;
        var count = 0;
        try
        {
            while (true)
            {
                await reader.ReadPartAsync(cts.Token);
                count++;
            }
        }
        catch (OperationCanceledException)
        {
        }

        return (count, hub.FramesPublished - publishedBefore);
    }
}
