using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Events.Recording;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Appliance.Tests.Infrastructure;
using Camera;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Events;

/// <summary>
/// Clips of events: recorded by the running appliance from scripted ffmpeg scenes played through the file source,
/// checked with real ffprobe/ffmpeg; the endpoints, start-up recovery of a cut clip, retention and the free-space pause.
/// </summary>
public sealed class RecordingTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("recording-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// The moving-box scene with 8 s of still picture first (moving 8–11 s, 16 s in all): the long still start lets
    /// capture settle at Events:Fps first (with 4 s, under load, the pre-roll held only 9 and 5 frames of the 15).
    /// </summary>
    private static Task<string> SceneAsync(string directory) => MotionServiceTests.MovingBoxSceneAsync(directory, stillSeconds: 8, seconds: 16);

    private static async Task<int> FfprobeFramesAsync(string path, string? format = "mpjpeg")
    {
        string[] input = format is null ? [path] : ["-f", format, path];
        var probe = await ExternalProcess.RunAsync(ExternalProcess.Require("ffprobe"),
            ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", .. input],
            TimeSpan.FromMinutes(1));
        Assert.True(probe.ExitCode == 0, probe.Stderr);
        return int.Parse(probe.Stdout.Trim().Split('\n')[0].Trim().TrimEnd(','), CultureInfo.InvariantCulture);
    }

    private static List<ClipPart> Parts(string path)
    {
        using var stream = File.OpenRead(path);
        return ClipFormat.ReadParts(stream);
    }

    private static async Task<ClipEntry> WaitForClipAsync(EventStore store, string kind, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var entry in store.List(null, 20, kind))
            {
                if (store.GetClip(entry.Id) is { State: "complete" } clip)
                {
                    return clip;
                }
            }

            await Task.Delay(250);
        }

        Assert.Fail($"no complete {kind} clip within {timeout}");
        return null!;
    }

    [Fact]
    public async Task Motion_BoxMovingInAScene_ClipHoldsPreRollEventAndPostRollAndPlaysEverywhere()
    {
        var scene = await SceneAsync(_dir);
        await using var server = await ApplianceServer.StartAsync(
            "--Camera:Source=file", $"--Camera:File={scene}", "--Camera:Fps=5", "--Camera:IdleFps=1",
            "--Motion:Enabled=true", "--Motion:QuietSeconds=1", "--Events:PreRollSeconds=3", "--Events:PostRollSeconds=1");
        var store = server.GetRequiredService<EventStore>();
        var clip = await WaitForClipAsync(store, "motion", TimeSpan.FromSeconds(60));
        var motion = store.List(null, 20, "motion").Single(e => e.Id == clip.EventId);
        Assert.NotNull(motion.End);

        // The file: every frame from the start minus the pre-roll to the end plus the post-roll (5 fps, ±0.5 s).
        var path = server.GetRequiredService<ClipFiles>().ClipPath(clip.EventId);
        var parts = Parts(path);
        Assert.Equal(clip.Frames, parts.Count);
        Assert.InRange((parts[0].At - (motion.Start - TimeSpan.FromSeconds(3))).TotalSeconds, -0.5, 0.5);
        Assert.InRange((parts[^1].At - (motion.End!.Value + TimeSpan.FromSeconds(1))).TotalSeconds, -0.5, 0.5);
        var preRoll = parts.Count(p => p.At < motion.Start);
        Assert.InRange(preRoll, 13, 16);
        Assert.Equal(new FileInfo(path).Length, clip.Bytes);

        // ffprobe reads the clip and counts every frame, the pre-roll included.
        Assert.Equal(parts.Count, await FfprobeFramesAsync(path));

        using var client = server.CreateClient();
        var listed = JsonNode.Parse(await client.GetStringAsync("/api/events?kind=motion"))!["events"]!.AsArray()
            .Single(e => (long)e!["id"]! == clip.EventId)!;
        Assert.Equal($"/api/events/{clip.EventId}/thumbnail.jpg", (string?)listed["thumbnail"]);
        Assert.Equal($"/api/events/{clip.EventId}/clip.mjpeg", (string?)listed["clip"]);

        // The thumbnail is the clip's frame with the most motion: while the box moves.
        var thumbnail = await client.GetAsync($"/api/events/{clip.EventId}/thumbnail.jpg");
        Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
        Assert.Equal("image/jpeg", thumbnail.Content.Headers.ContentType!.MediaType);
        var thumbnailPart = Assert.Single(parts, p => p.JpegOffset == clip.ThumbnailOffset);
        Assert.InRange(thumbnailPart.At, motion.Start, motion.End.Value);
        var bytes = await thumbnail.Content.ReadAsByteArrayAsync();
        Assert.Equal(File.ReadAllBytes(path).AsSpan((int)thumbnailPart.JpegOffset, thumbnailPart.JpegLength).ToArray(), bytes);

        // Replayed at the recorded pace: all parts, taking as long as the clip (the last part is sent at its time).
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using (var replay = await client.GetAsync($"/api/events/{clip.EventId}/clip.mjpeg", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal("multipart/x-mixed-replace", replay.Content.Headers.ContentType!.MediaType);
            var body = await replay.Content.ReadAsByteArrayAsync();
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            var duration = (parts[^1].At - parts[0].At).TotalSeconds;
            Assert.InRange(elapsed, duration - 0.3, duration + 3);
            using var replayed = new MemoryStream(body);
            Assert.Equal(parts.Count, ClipFormat.ReadParts(replayed).Count);
        }

        // The mp4 made by ffmpeg on demand: every frame, as long as the clip; cached next to it.
        var mp4 = await client.GetAsync($"/api/events/{clip.EventId}/clip.mp4");
        Assert.True(mp4.StatusCode == HttpStatusCode.OK, await mp4.Content.ReadAsStringAsync());
        Assert.Equal("video/mp4", mp4.Content.Headers.ContentType!.MediaType);
        var mp4Path = server.GetRequiredService<ClipFiles>().Mp4Path(clip.EventId);
        Assert.True(File.Exists(mp4Path));
        Assert.Equal(parts.Count, await FfprobeFramesAsync(mp4Path, format: null));

        // Deleting the event deletes its files.
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/events/{clip.EventId}")).StatusCode);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(mp4Path));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/events/{clip.EventId}/thumbnail.jpg")).StatusCode);
    }

    [Fact]
    public async Task Press_OfAPirPin_RecordsPreRollAndPostRollWithTheThumbnailAtThePress()
    {
        await using var server = await ApplianceServer.StartAsync(
            "--Camera:Fps=10", "--Events:PreRollSeconds=2", "--Events:PostRollSeconds=1",
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:Edge=Rising", "--Gpio:Pins:pir:OnPress=Alert");
        var recorder = server.GetRequiredService<ClipRecorder>();

        // Only once the ring holds the pre-roll.
        for (var i = 0; i < 100 && recorder.RingFrames < 11; i++)
        {
            await Task.Delay(100);
        }

        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        chip.SetInput(22, physical: true);
        var store = server.GetRequiredService<EventStore>();
        var clip = await WaitForClipAsync(store, "press", TimeSpan.FromSeconds(30));
        var press = store.List(null, 5, "press").Single(e => e.Id == clip.EventId);
        var parts = Parts(server.GetRequiredService<ClipFiles>().ClipPath(clip.EventId));

        Assert.InRange((parts[0].At - (press.Start - TimeSpan.FromSeconds(2))).TotalSeconds, -0.5, 0.5);
        Assert.InRange((parts[^1].At - (press.Start + TimeSpan.FromSeconds(1))).TotalSeconds, -0.5, 0.5);
        Assert.InRange(parts.Count(p => p.At < press.Start), 8, 11); // Events:Fps 5 of a 10 fps capture
        var thumbnail = Assert.Single(parts, p => p.JpegOffset == clip.ThumbnailOffset);
        Assert.InRange((thumbnail.At - press.Start).TotalSeconds, -0.2, 0.2);
        Assert.Equal(parts.Count, await FfprobeFramesAsync(server.GetRequiredService<ClipFiles>().ClipPath(clip.EventId)));
    }

    [Fact]
    public async Task NoEventSource_ByDefault_RunsNoRecorderAndListsNoClip()
    {
        await using var server = await ApplianceServer.StartAsync();
        Assert.Empty(server.Services.GetServices<IHostedService>().OfType<ClipRecorder>());
        Assert.Null(server.Services.GetService<ClipRecorder>());
        var store = server.GetRequiredService<EventStore>();
        var id = store.Add("switch", T0, null, "porch", "wecom:alice");
        using var client = server.CreateClient();
        var entry = JsonNode.Parse(await client.GetStringAsync("/api/events"))!["events"]![0]!;
        Assert.Null(entry["thumbnail"]);
        Assert.Null(entry["clip"]);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/events/{id}/clip.mjpeg")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/events/{id}/clip.mp4")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/events/abc/thumbnail.jpg")).StatusCode);
    }

    [Fact]
    public async Task Mp4_FfmpegMissing_Is503NamingFfmpegAndTheClipStillPlays()
    {
        await using var server = await ApplianceServer.StartAsync("--Events:FfmpegPath=/nonexistent/bin/ffmpeg");
        var id = await AddClipAsync(server.GetRequiredService<EventStore>(), server.GetRequiredService<ClipFiles>(), frames: 3, cutLast: false);
        using var client = server.CreateClient();

        var response = await client.GetAsync($"/api/events/{id}/clip.mp4");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("ffmpeg", text, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/bin/ffmpeg", text, StringComparison.Ordinal);
        Assert.False(File.Exists(server.GetRequiredService<ClipFiles>().Mp4Path(id)));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/events/{id}/clip.mjpeg")).StatusCode);
    }

    [Fact]
    public async Task ClipEndpoints_AccessRules_AsTheStream()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=pw");
        var id = await AddClipAsync(server.GetRequiredService<EventStore>(), server.GetRequiredService<ClipFiles>(), frames: 2, cutLast: false);
        using var anonymous = server.CreateClient();
        foreach (var what in (string[])["thumbnail.jpg", "clip.mjpeg", "clip.mp4"])
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/events/{id}/{what}")).StatusCode);
        }

        var link = server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/api/events", TimeSpan.FromMinutes(5));
        using var viewer = server.CreateClient(cookies: new CookieContainer());
        await viewer.GetStringAsync(link);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync($"/api/events/{id}/thumbnail.jpg")).StatusCode);
    }

    [Fact]
    public async Task Recover_ClipCutByAPowerCut_IsCutBackToItsLastCompleteFrameAndMarkedPartial()
    {
        var state = new StateDirectory(Path.Combine(_dir, "state"));
        using var store = new EventStore(state.File(Path.Combine("events", "events.db")));
        var files = new ClipFiles(state, store, new RecordingOptions(), TimeProvider.System, NullLogger<ClipFiles>.Instance);
        var id = await AddClipAsync(store, files, frames: 5, cutLast: true);
        var orphan = files.ClipPath(id + 100);
        File.WriteAllText(orphan, "no event owns this");

        files.Recover();

        var clip = store.GetClip(id)!;
        Assert.Equal("partial", clip.State);
        Assert.Equal(4, clip.Frames);
        Assert.Equal(new FileInfo(files.ClipPath(id)).Length, clip.Bytes);
        Assert.NotNull(clip.ThumbnailOffset);
        Assert.Equal(4, Parts(files.ClipPath(id)).Count);
        Assert.Equal(4, await FfprobeFramesAsync(files.ClipPath(id)));
        Assert.False(File.Exists(orphan));
    }

    [Fact]
    public async Task Retention_DiskBudgetAndAge_RemoveTheOldestFirst()
    {
        var time = new FakeTimeProvider(T0);
        var state = new StateDirectory(Path.Combine(_dir, "state"));
        using var store = new EventStore(state.File(Path.Combine("events", "events.db")));
        var options = new RecordingOptions { MaxDiskMegabytes = 1, MaxAgeDays = 30 };
        var files = new ClipFiles(state, store, options, time, NullLogger<ClipFiles>.Instance);

        // Three clips of ~400 kB; a 1 MB budget keeps the newest two.
        var ids = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromDays(10));
            ids.Add(await AddClipAsync(store, files, frames: 2, cutLast: false, padTo: 400 * 1024, at: time.GetUtcNow()));
        }

        var total = files.Enforce();
        Assert.InRange(total, 1, 1024 * 1024);
        Assert.Equal("removed", store.GetClip(ids[0])!.State);
        Assert.False(File.Exists(files.ClipPath(ids[0])));
        Assert.Equal(3, store.List(null, 10, null).Count); // the event stays on the timeline, without its clip
        Assert.Equal("complete", store.GetClip(ids[1])!.State);
        Assert.True(File.Exists(files.ClipPath(ids[2])));

        // 21 days later the first two (41 and 31 days old) are past Events:MaxAgeDays (30): gone with their files.
        time.Advance(TimeSpan.FromDays(21));
        files.Enforce();
        Assert.Equal([ids[2]], store.List(null, 10, null).Select(e => e.Id));
        Assert.False(File.Exists(files.ClipPath(ids[1])));
        Assert.True(File.Exists(files.ClipPath(ids[2])));
    }

    [Fact]
    public async Task MinFree_AboveTheFreeSpace_PausesRecordingShownInStatusAndDoctor()
    {
        await using var server = await ApplianceServer.StartAsync(
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:Edge=Rising", "--Gpio:Pins:pir:OnPress=Alert",
            "--Events:MinFreeMegabytes=999999999");
        using var client = server.CreateClient();
        var recording = JsonNode.Parse(await client.GetStringAsync("/api/status"))!["recording"]!;
        Assert.True((bool)recording["paused"]!, recording.ToJsonString());
        Assert.Equal(999999999, (long)recording["minFreeMegabytes"]!);

        // A press while paused is on the timeline, without a clip.
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        chip.SetInput(22, physical: true);
        var store = server.GetRequiredService<EventStore>();
        for (var i = 0; i < 100 && store.List(null, 1, "press").Count == 0; i++)
        {
            await Task.Delay(100);
        }

        var press = Assert.Single(store.List(null, 5, "press"));
        await Task.Delay(500);
        Assert.Null(store.GetClip(press.Id));
        recording = JsonNode.Parse(await client.GetStringAsync("/api/status"))!["recording"]!;
        Assert.Equal(1, (long)recording["clipsSkippedWhilePaused"]!);

        var doctor = server.Services.GetServices<Appliance.Doctor.IDoctorCheck>().OfType<RecordingDoctorCheck>().Single();
        var result = await doctor.RunAsync(CancellationToken.None);
        Assert.Equal(Appliance.Doctor.DoctorOutcome.Warn, result.Outcome);
        Assert.Contains("Events:MinFreeMegabytes", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteQueue_Full_DropsTheOldestFrameNeverAnEndAndReleasesIt()
    {
        var dropped = 0;
        var queue = new ClipWriteQueue(capacity: 4, _ => dropped++);
        var clip = new ClipRecording(1, T0, null, T0);
        var frames = Enumerable.Range(0, 6).Select(i => Frame.Create([0xFF, 0xD8, (byte)i, 0xFF, 0xD9], 1, 1, T0.AddSeconds(i))).ToList();
        queue.Add(clip, frames[0]);
        queue.Add(clip, null);
        for (var i = 1; i < 6; i++)
        {
            queue.Add(clip, frames[i]);
        }

        Assert.Equal(2, dropped);
        Assert.Throws<ObjectDisposedException>(() => frames[0].Jpeg);
        Assert.Throws<ObjectDisposedException>(() => frames[1].Jpeg);
        queue.Complete();
        var taken = new List<Frame?>();
        while (queue.Take(out _, out var frame))
        {
            taken.Add(frame);
        }

        Assert.Equal(new Frame?[] { null, frames[2], frames[3], frames[4], frames[5] }, taken);
    }

    /// <summary>An event with a clip written as the recorder writes it (optionally with its last part cut short).</summary>
    private static async Task<long> AddClipAsync(
        EventStore store, ClipFiles files, int frames, bool cutLast, int padTo = 0, DateTimeOffset? at = null)
    {
        var start = at ?? T0;
        var jpegPath = Path.Combine(files.Directory, "..", "frame.jpg");
        Directory.CreateDirectory(files.Directory);
        var made = await ExternalProcess.RunAsync(ExternalProcess.Require("ffmpeg"),
            ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=1", "-frames:v", "1", jpegPath], TimeSpan.FromMinutes(1));
        Assert.True(made.ExitCode == 0, made.Stderr);
        var jpeg = File.ReadAllBytes(jpegPath);
        var id = store.Add("motion", start, start.AddSeconds(frames), "camera", null);
        using var output = new MemoryStream();
        long thumbnail = 0;
        for (var i = 0; i < frames; i++)
        {
            var header = ClipFormat.Header(jpeg.Length, start.AddMilliseconds(200 * i));
            output.Write(header);
            thumbnail = output.Position;
            output.Write(jpeg);
            output.Write("\r\n"u8);
        }

        var bytes = output.ToArray();
        if (cutLast)
        {
            // A power cut in the last part: half of it, then zeros where ext4 had the size but not the data.
            bytes = [.. bytes.AsSpan(0, bytes.Length - (jpeg.Length / 2)), .. new byte[300]];
        }

        if (padTo > bytes.Length)
        {
            await File.WriteAllBytesAsync(files.Mp4Path(id), new byte[padTo - bytes.Length]);
        }

        await File.WriteAllBytesAsync(files.ClipPath(id), bytes);
        store.SetClip(new ClipEntry(id, cutLast ? "recording" : "complete", frames, bytes.Length, start, start.AddMilliseconds(200 * (frames - 1)),
            thumbnail, jpeg.Length));
        return id;
    }
}
