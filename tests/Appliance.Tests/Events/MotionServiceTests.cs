using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Tests.Infrastructure;
using Camera;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Tests.Events;

/// <summary>Motion detection in the running appliance: a scripted ffmpeg scene played through the file source.</summary>
public sealed class MotionServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("motion-service-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// 320x240 at 5 fps, <paramref name="seconds"/> long: a dark box still until <paramref name="stillSeconds"/>, moving
    /// for 3 s, then still again.
    /// </summary>
    internal static async Task<string> MovingBoxSceneAsync(string directory, int stillSeconds = 2, int seconds = 8)
    {
        var path = Path.Combine(directory, $"moving-box-from-{stillSeconds}.mjpeg");
        var (from, to) = (stillSeconds, stillSeconds + 3);
        var made = await ExternalProcess.RunAsync(ExternalProcess.Require("ffmpeg"),
            ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "smptehdbars=size=320x240:rate=5",
             "-f", "lavfi", "-i", "color=c=0x202020:size=40x40:rate=5",
             "-filter_complex", $"[0][1]overlay=x='if(lt(t,{from}),25,if(lt(t,{to}),25+(t-{from})*75,250))':y=70",
             "-t", $"{seconds}", "-r", "5", "-pix_fmt", "yuvj420p", "-q:v", "4", "-f", "mjpeg", path],
            TimeSpan.FromMinutes(1));
        Assert.True(made.ExitCode == 0, made.Stderr);
        return path;
    }

    [Fact]
    public async Task MotionEnabled_SceneWithAMovingBox_ReportsAnEventWhileNobodyWatches()
    {
        var scene = await MovingBoxSceneAsync(_dir);
        await using var server = await ApplianceServer.StartAsync(
            "--Camera:Source=file", $"--Camera:File={scene}", "--Camera:Fps=10", "--Camera:IdleFps=1",
            "--Motion:Enabled=true", "--Motion:QuietSeconds=1");
        using var client = server.CreateClient();

        // Nobody watches, yet capture runs at Motion:Fps (5) instead of Camera:IdleFps (1) for the analyser.
        Assert.Equal(5, server.GetRequiredService<FrameHub>().MinimumIdleFps);
        JsonNode? motion = null;
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (DateTime.UtcNow < deadline)
        {
            var status = JsonNode.Parse(await client.GetStringAsync("/api/status"))!;
            motion = status["motion"];
            if (motion?["events"]?.GetValue<long>() >= 1)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.NotNull(motion);
        Assert.True(motion["events"]!.GetValue<long>() >= 1, motion.ToJsonString());
        Assert.True(motion["framesAnalysed"]!.GetValue<long>() >= 10, motion.ToJsonString());
        // The analysis's own CPU (the analyser thread's clock): some, and never more than the wall time around it.
        var cpu = motion["analysisCpuMillisecondsPerFrame"]!.GetValue<double>();
        Assert.True(cpu > 0 && motion["analysisCpuSeconds"]!.GetValue<double>() > 0, motion.ToJsonString());
        Assert.True(cpu <= motion["analysisMillisecondsPerFrame"]!.GetValue<double>() + 0.05, motion.ToJsonString());
        var last = motion["lastEvent"]!;
        var start = DateTimeOffset.Parse(last["start"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var end = DateTimeOffset.Parse(last["end"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

        // The box moves 3 s of each 8 s loop (the jump back to the start at the loop is a move too).
        Assert.InRange((end - start).TotalSeconds, 1.0, 7.0);

        // The same event is on the timeline, with its end.
        var timeline = JsonNode.Parse(await client.GetStringAsync("/api/events?kind=motion"))!["events"]!.AsArray();
        Assert.Contains(timeline, e => (string?)e!["end"] is not null && (string?)e["source"] == "camera");
    }

    [Fact]
    public async Task MotionDisabled_ByDefault_RunsNoAnalyserAndKeepsTheIdleRate()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        var status = JsonNode.Parse(await client.GetStringAsync("/api/status"))!;

        Assert.Null(status["motion"]);
        Assert.Empty(server.Services.GetServices<IHostedService>().OfType<MotionService>());
        Assert.Equal(0, server.GetRequiredService<FrameHub>().MinimumIdleFps);
    }
}
