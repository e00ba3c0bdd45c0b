using System.Globalization;

namespace Appliance.Events.Recording;

/// <summary>
/// The clips on disk (the state directory's <c>events/clips/</c>: <c>{id}.mjpeg</c> and its cached <c>{id}.mp4</c>):
/// paths, deletion, what start-up finds of clips a stop or power cut interrupted, retention (age, disk budget) and
/// the free-space pause. Cheap to hold: registered whether or not anything records, so deleting an event always
/// deletes its files.
/// </summary>
internal sealed partial class ClipFiles(
    StateDirectory state, EventStore store, RecordingOptions options, TimeProvider time, ILogger<ClipFiles> logger)
{
    private readonly Lock _retentionGate = new();
    private int _paused = -1; // -1 not checked yet, 0 recording, 1 paused
    private long _freeBytes = -1;
    private long _diskBytes;

    public string Directory { get; } = state.File(Path.Combine("events", "clips"));

    public string ClipPath(long id) => Path.Combine(Directory, id.ToString(CultureInfo.InvariantCulture) + ".mjpeg");

    public string Mp4Path(long id) => Path.Combine(Directory, id.ToString(CultureInfo.InvariantCulture) + ".mp4");

    /// <summary>True while free space is below <c>Events:MinFreeMegabytes</c> (as last checked): no clip starts.</summary>
    public bool Paused => Volatile.Read(ref _paused) == 1;

    /// <summary>Free bytes on the clips' disk as last checked (-1 before the first check).</summary>
    public long FreeBytes => Interlocked.Read(ref _freeBytes);

    /// <summary>Bytes the clips took at the last retention pass.</summary>
    public long DiskBytes => Interlocked.Read(ref _diskBytes);

    /// <summary>Deletes an event's clip and mp4 copy (absent files are fine).</summary>
    public void DeleteFiles(long id)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }

        File.Delete(ClipPath(id));
        File.Delete(Mp4Path(id));
        File.Delete(Mp4Path(id) + ".tmp");
    }

    /// <summary>
    /// Checks free space; recording pauses below <c>Events:MinFreeMegabytes</c> and resumes above it, each change
    /// logged once. Returns true while paused.
    /// </summary>
    public bool CheckFreeSpace()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var free = new DriveInfo(Directory).AvailableFreeSpace;
        Interlocked.Exchange(ref _freeBytes, free);
        var paused = free < options.MinFreeMegabytes * 1024 * 1024 ? 1 : 0;
        var before = Interlocked.Exchange(ref _paused, paused);
        if (before != paused && (paused == 1 || before == 1))
        {
            if (paused == 1)
            {
                LogPaused(logger, free / (1024 * 1024), Directory, options.MinFreeMegabytes);
            }
            else
            {
                LogResumed(logger, free / (1024 * 1024), Directory, options.MinFreeMegabytes);
            }
        }

        return paused == 1;
    }

    /// <summary>
    /// At start-up: a clip still marked <c>recording</c> was cut off (a stop that could not finish it, a power cut).
    /// It is cut back to its last complete frame and marked <c>partial</c>; files no event owns are removed.
    /// </summary>
    public void Recover()
    {
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var clip in store.ClipsInState("recording"))
        {
            var path = ClipPath(clip.EventId);
            var recovered = clip with { State = "partial", Frames = 0, Bytes = 0, ThumbnailOffset = null, ThumbnailLength = null };
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                var parts = ClipFormat.ReadParts(stream);
                var end = parts.Count == 0 ? 0 : Math.Min(parts[^1].End, stream.Length);
                if (stream.Length != end)
                {
                    stream.SetLength(end);
                    stream.Flush(flushToDisk: true);
                }

                if (parts.Count > 0)
                {
                    // The thumbnail: the frame where the event began (just after the pre-roll).
                    var eventStart = parts[0].At + TimeSpan.FromSeconds(options.PreRollSeconds);
                    var thumbnail = parts.MinBy(p => Math.Abs((p.At - eventStart).Ticks));
                    recovered = recovered with
                    {
                        Frames = parts.Count, Bytes = end, First = parts[0].At, Last = parts[^1].At,
                        ThumbnailOffset = thumbnail.JpegOffset, ThumbnailLength = thumbnail.JpegLength,
                    };
                }
            }

            store.SetClip(recovered);
            LogRecovered(logger, clip.EventId, recovered.Frames);
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(file);
            var owned = long.TryParse(name.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                && !name.EndsWith(".tmp", StringComparison.Ordinal) && store.GetClip(id) is { HasFiles: true };
            if (!owned)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// Retention: events older than <c>Events:MaxAgeDays</c> go with their files; then, while the clips take more
    /// than <c>Events:MaxDiskMegabytes</c>, the oldest clip's files go (the event stays on the timeline, its clip
    /// marked removed). A clip being recorded is never removed. Returns the clips' bytes afterwards.
    /// </summary>
    public long Enforce()
    {
        lock (_retentionGate)
        {
            System.IO.Directory.CreateDirectory(Directory);
            if (options.MaxAgeDays > 0)
            {
                foreach (var id in store.EventsBefore(time.GetUtcNow() - TimeSpan.FromDays(options.MaxAgeDays)))
                {
                    DeleteFiles(id);
                    store.Delete(id);
                    LogAged(logger, id, options.MaxAgeDays);
                }
            }

            var sizes = new SortedDictionary<long, long>();
            foreach (var file in new DirectoryInfo(Directory).EnumerateFiles())
            {
                if (long.TryParse(file.Name.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    sizes[id] = sizes.GetValueOrDefault(id) + file.Length;
                }
            }

            var total = sizes.Values.Sum();
            var budget = options.MaxDiskMegabytes * 1024 * 1024;
            foreach (var (id, bytes) in sizes)
            {
                if (total <= budget)
                {
                    break;
                }

                var clip = store.GetClip(id);
                if (clip is { State: "recording" })
                {
                    continue;
                }

                DeleteFiles(id);
                if (clip is not null)
                {
                    store.SetClip(clip with { State = "removed", ThumbnailOffset = null, ThumbnailLength = null });
                }

                total -= bytes;
                LogRemoved(logger, id, bytes, options.MaxDiskMegabytes);
            }

            Interlocked.Exchange(ref _diskBytes, total);
            return total;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording paused: {FreeMegabytes} MB free on {Directory}, below Events:MinFreeMegabytes ({MinFreeMegabytes} MB)")]
    private static partial void LogPaused(ILogger logger, long freeMegabytes, string directory, long minFreeMegabytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording resumed: {FreeMegabytes} MB free on {Directory} (Events:MinFreeMegabytes {MinFreeMegabytes} MB)")]
    private static partial void LogResumed(ILogger logger, long freeMegabytes, string directory, long minFreeMegabytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {Id}: its clip was not finished (stop or power cut); kept as partial with {Frames} complete frames")]
    private static partial void LogRecovered(ILogger logger, long id, int frames);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event {Id} removed: older than Events:MaxAgeDays ({Days})")]
    private static partial void LogAged(ILogger logger, long id, double days);

    [LoggerMessage(Level = LogLevel.Information, Message = "Clip of event {Id} removed ({Bytes} bytes): the clips exceeded Events:MaxDiskMegabytes ({Megabytes} MB)")]
    private static partial void LogRemoved(ILogger logger, long id, long bytes, long megabytes);
}
