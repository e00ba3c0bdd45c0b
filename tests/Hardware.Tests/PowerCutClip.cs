using System.Diagnostics;
using System.Globalization;
using Appliance.Events;
using Appliance.Events.Recording;
using Appliance.Hosting;
using Camera;
using Camera.Motion;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hardware.Tests;

/// <summary>
/// The clip part of the power-cut test: the cut boot leaves a press's clip being written (its writer synced it
/// every 2 s, never finished it); the boot after checks that the index is intact, that ffprobe plays the clip up to
/// its last complete frame, and that start-up marks it partial.
/// </summary>
internal static class PowerCutClip
{
    /// <summary>Frames of the clip that must survive: the writer synced at least ~10 (2 s at Events:Fps 5) before the cut.</summary>
    private const int MinimumFrames = 5;

    public static void RecordAndLeaveOpen(StateDirectory state, string share)
    {
        var jpeg = File.ReadAllBytes(Path.Combine(share, "frame.jpg"));
        var store = new EventStore(state.File(Path.Combine("events", "events.db")));
        var options = new RecordingOptions { PreRollSeconds = 1, PostRollSeconds = 60, MinFreeMegabytes = 1 };
        var files = new ClipFiles(state, store, options, TimeProvider.System, NullLogger<ClipFiles>.Instance);
        var hub = new FrameHub();
        var recorder = new ClipRecorder(hub, options, new MotionOptions(), files, store, TimeProvider.System, NullLogger<ClipRecorder>.Instance);
        recorder.StartAsync(CancellationToken.None).GetAwaiter().GetResult();

        // 10 fps for 3.5 s (the recorder keeps 5 of them a second); the press after the first second's pre-roll.
        long id = 0;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < 35; i++)
        {
            hub.Publish(Frame.Create(jpeg, 160, 120, DateTimeOffset.UtcNow));
            if (i == 10)
            {
                var now = DateTimeOffset.UtcNow;
                id = store.Add("press", now, now, "pir", null);
                recorder.Press(id, now);
            }

            var due = TimeSpan.FromMilliseconds(100 * (i + 1)) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                Thread.Sleep(due);
            }
        }

        // Let the writer take what is queued; it is still the clip under way (post-roll 60 s) when the power goes.
        Thread.Sleep(TimeSpan.FromSeconds(1));
        File.WriteAllText(Path.Combine(share, "clip-id"), id.ToString(CultureInfo.InvariantCulture));
    }

    public static void Check(StateDirectory state, string share)
    {
        var id = long.Parse(File.ReadAllText(Path.Combine(share, "clip-id")), CultureInfo.InvariantCulture);
        var database = state.File(Path.Combine("events", "events.db"));
        using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA integrity_check;";
            Assert.Equal("ok", (string)command.ExecuteScalar()!);
        }

        using var store = new EventStore(database);
        Assert.Equal("press", Assert.Single(store.List(null, 10, null), e => e.Id == id).Kind);
        Assert.Equal("recording", store.GetClip(id)!.State); // it was being written when the power went

        var files = new ClipFiles(state, store, new RecordingOptions(), TimeProvider.System, NullLogger<ClipFiles>.Instance);
        var path = files.ClipPath(id);
        var complete = Parts(path);
        var probed = FfprobeFrames(path);
        Console.WriteLine($"power-cut clip: {new FileInfo(path).Length} bytes on the disk, {complete} complete frames, ffprobe read {probed}");
        Assert.True(complete >= MinimumFrames, $"only {complete} frames of the clip survived; the writer syncs every 2 s");

        // ffprobe plays what the cut left (a cut last part at most adds one frame it decodes in part).
        Assert.InRange(probed, complete, complete + 1);

        // Start-up: cut back to the last complete frame, marked partial; ffprobe then reads exactly those.
        files.Recover();
        var clip = store.GetClip(id)!;
        Assert.Equal("partial", clip.State);
        Assert.Equal(complete, clip.Frames);
        Assert.Equal(complete, FfprobeFrames(path));
    }

    private static int Parts(string path)
    {
        using var stream = File.OpenRead(path);
        return ClipFormat.ReadParts(stream).Count;
    }

    private static int FfprobeFrames(string path)
    {
        var start = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", "-f", "mpjpeg", path])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "ffprobe did not finish");
        Assert.True(process.ExitCode == 0, errors);
        return int.Parse(output.Trim().Split('\n')[0].Trim().TrimEnd(','), CultureInfo.InvariantCulture);
    }
}
