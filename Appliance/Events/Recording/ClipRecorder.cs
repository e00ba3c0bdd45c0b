using System.Diagnostics;
using System.Text.Json.Nodes;
using Appliance.Status;
using Camera;
using Camera.Motion;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Events.Recording;

/// <summary>One clip under way. The recorder's fields are guarded by its lock; the file's by the writer thread.</summary>
internal sealed class ClipRecording(long eventId, DateTimeOffset from, DateTimeOffset? stopAt, DateTimeOffset thumbnailAt)
{
    public long EventId { get; } = eventId;

    /// <summary>The first frame's earliest capture time: the event's start minus the pre-roll.</summary>
    public DateTimeOffset From { get; } = from;

    /// <summary>The last frame's latest capture time (end plus post-roll); null while the motion goes on.</summary>
    public DateTimeOffset? StopAt { get; set; } = stopAt;

    /// <summary>The thumbnail is the frame nearest this time: the most motion, or the press.</summary>
    public DateTimeOffset ThumbnailAt { get; set; } = thumbnailAt;

    public int Dropped;

    // The writer thread's own.
    public SafeFileHandle? File;
    public long Length;
    public readonly List<ClipPart> Parts = [];
    public DateTimeOffset LastSync;
    public bool Stopped;
}

/// <summary>
/// Records a clip for every motion or press event. A consumer of the frame hub keeps the last
/// <c>Events:PreRollSeconds</c> (plus the time motion detection needs to decide) in a ring, at <c>Events:Fps</c>.
/// <para>
/// The ring holds the hub's own <see cref="Frame"/> objects, one reference each (<see cref="Frame.AddReference"/>):
/// a frame is a reference-counted pooled buffer that nobody writes to after publishing, so sharing it is safe, and
/// holding a reference costs no copy and no re-encoding; the buffer goes back to the pool when the ring (and the
/// writer, and any viewer) let go of it. The price is that up to a ring's worth of buffers (about 25 frames of ~60-150
/// kB at 720p) stays rented.
/// </para>
/// <para>
/// An event's clip starts with the ring's frames from its start minus the pre-roll; later frames follow until its end
/// plus <c>Events:PostRollSeconds</c>. Frames go to a bounded queue (drop-oldest, counted and logged) that a
/// dedicated thread appends to the clip file: capture and the hub never wait for the SD card. Registered only when
/// an event source is on (motion, or a pin with OnPress), so it costs nothing otherwise.
/// </para>
/// </summary>
internal sealed partial class ClipRecorder : BackgroundService, IStatusContributor
{
    /// <summary>The writer syncs a clip at least this often, so a power cut loses at most this much of it.</summary>
    private static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(2);
    private static readonly ReadOnlyMemory<byte> CrLf = "\r\n"u8.ToArray();

    private readonly FrameHub _hub;
    private readonly RecordingOptions _options;
    private readonly ClipFiles _files;
    private readonly EventStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<ClipRecorder> _logger;
    private readonly Lock _gate = new();
    private readonly Queue<Frame> _ring = new();
    private readonly List<ClipRecording> _active = [];
    private readonly ClipWriteQueue _queue;
    private readonly TimeSpan _ringSpan;
    private readonly int _ringCapacity;
    private readonly TimeSpan _slot;
    private Thread? _writer;
    private bool _stopping;
    private long _clips;
    private long _clipsSkipped;
    private long _framesWritten;
    private long _framesDropped;
    private long _bytesWritten;
    private long _writeTicks;

    public ClipRecorder(
        FrameHub hub, RecordingOptions options, MotionOptions motion, ClipFiles files, EventStore store, TimeProvider time, ILogger<ClipRecorder> logger)
    {
        _hub = hub;
        _options = options;
        _files = files;
        _store = store;
        _time = time;
        _logger = logger;
        _queue = new ClipWriteQueue(options.QueueFrames, Dropped);

        // Motion is reported MinFrames analysed frames after it began, plus an analysis: the ring keeps that long
        // beyond the pre-roll, so the clip can still start a full pre-roll before the motion.
        _ringSpan = TimeSpan.FromSeconds(options.PreRollSeconds + (motion.MinFrames / (double)motion.Fps) + 1);
        _ringCapacity = (int)Math.Ceiling(_ringSpan.TotalSeconds * options.Fps) + 2;
        _slot = TimeSpan.FromSeconds(1.0 / options.Fps);
    }

    /// <summary>Frames held in the pre-roll ring now.</summary>
    public int RingFrames
    {
        get
        {
            lock (_gate)
            {
                return _ring.Count;
            }
        }
    }

    /// <summary>A motion event began at <paramref name="start"/>: its clip runs until <see cref="End"/> plus the post-roll.</summary>
    public void BeginMotion(long eventId, DateTimeOffset start) => Begin(eventId, start, stopAt: null, thumbnailAt: start);

    /// <summary>A motion event ended: the clip goes on for the post-roll; its thumbnail is the frame with the most motion.</summary>
    public void End(long eventId, DateTimeOffset end, DateTimeOffset peakAt)
    {
        lock (_gate)
        {
            if (_active.Find(r => r.EventId == eventId) is { } recording)
            {
                recording.StopAt = end + TimeSpan.FromSeconds(_options.PostRollSeconds);
                recording.ThumbnailAt = peakAt;
            }
        }
    }

    /// <summary>A press at <paramref name="at"/>: pre-roll, then the post-roll after it; the thumbnail is the frame at the press.</summary>
    public void Press(long eventId, DateTimeOffset at) =>
        Begin(eventId, at, stopAt: at + TimeSpan.FromSeconds(_options.PostRollSeconds), thumbnailAt: at);

    private void Begin(long eventId, DateTimeOffset start, DateTimeOffset? stopAt, DateTimeOffset thumbnailAt)
    {
        if (_files.Paused)
        {
            Interlocked.Increment(ref _clipsSkipped);
            LogSkipped(_logger, eventId);
            return;
        }

        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            var recording = new ClipRecording(eventId, start - TimeSpan.FromSeconds(_options.PreRollSeconds), stopAt, thumbnailAt);
            _active.Add(recording);
            foreach (var frame in _ring)
            {
                if (frame.CapturedAt >= recording.From)
                {
                    frame.AddReference();
                    _queue.Add(recording, frame);
                }
            }
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // While nobody watches, capture runs at the larger of Camera:IdleFps, Motion:Fps and this.
        _hub.MinimumIdleFps = Math.Max(_hub.MinimumIdleFps, _options.Fps);
        try
        {
            _files.Recover();
            _files.Enforce();
            _files.CheckFreeSpace();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
        {
            // Recording still starts; retention and the free-space check run again within a minute.
            LogHousekeepingFailed(_logger, ex);
        }

        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "clip writer" };
        _writer.Start();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var housekeeping = HousekeepingAsync(stoppingToken);
        var lastSequence = 0L;
        var lastKept = DateTimeOffset.MinValue;
        var lastSlot = long.MinValue;
        Task<Frame>? pending = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                pending ??= _hub.NextAsync(lastSequence, stoppingToken).AsTask();

                // Wakes at least once a second so a clip ends on time even when frames stop coming (camera lost).
                using (var tick = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    var delay = Task.Delay(TimeSpan.FromSeconds(1), _time, tick.Token);
                    var done = await Task.WhenAny(pending, delay).ConfigureAwait(false);
                    await tick.CancelAsync().ConfigureAwait(false);
                    if (done != pending)
                    {
                        FinishDue(_time.GetUtcNow());
                        continue;
                    }
                }

                var frame = await pending.ConfigureAwait(false);
                pending = null;
                lastSequence = frame.Sequence;

                // At most one frame per 1/Events:Fps slot, slots rounded to the nearest: a capture running at exactly
                // Events:Fps keeps every frame whatever its jitter (a minimum gap would drop the early ones).
                var slot = (long)Math.Floor((frame.CapturedAt.UtcTicks / (double)_slot.Ticks) + 0.5);
                if (slot <= lastSlot && frame.CapturedAt >= lastKept)
                {
                    frame.Release();
                    continue;
                }

                lastSlot = slot;
                lastKept = frame.CapturedAt;
                Keep(frame);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The hub was disposed while the host stopped.
        }
        finally
        {
            if (pending is { IsCompletedSuccessfully: true })
            {
                pending.Result.Release();
            }

            Stop();
            await housekeeping.ConfigureAwait(false);
        }
    }

    private async Task HousekeepingAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    _files.CheckFreeSpace();
                    _files.Enforce();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
                {
                    LogHousekeepingFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The ring takes over the frame's reference; each clip under way gets one of its own.</summary>
    private void Keep(Frame frame)
    {
        lock (_gate)
        {
            _ring.Enqueue(frame);
            while (_ring.Count > _ringCapacity || frame.CapturedAt - _ring.Peek().CapturedAt > _ringSpan)
            {
                _ring.Dequeue().Release();
            }

            for (var i = _active.Count - 1; i >= 0; i--)
            {
                var recording = _active[i];
                if (frame.CapturedAt > recording.StopAt || frame.CapturedAt - recording.From > TimeSpan.FromSeconds(_options.MaxClipSeconds))
                {
                    Finish(recording);
                    continue;
                }

                frame.AddReference();
                _queue.Add(recording, frame);
            }
        }
    }

    private void FinishDue(DateTimeOffset now)
    {
        lock (_gate)
        {
            for (var i = _active.Count - 1; i >= 0; i--)
            {
                if (now > _active[i].StopAt)
                {
                    Finish(_active[i]);
                }
            }
        }
    }

    private void Finish(ClipRecording recording)
    {
        _active.Remove(recording);
        _queue.Add(recording, null);
    }

    private void Stop()
    {
        lock (_gate)
        {
            _stopping = true;
            for (var i = _active.Count - 1; i >= 0; i--)
            {
                Finish(_active[i]);
            }

            while (_ring.Count > 0)
            {
                _ring.Dequeue().Release();
            }
        }

        _queue.Complete();
        _writer?.Join(TimeSpan.FromSeconds(10));
    }

    private void Dropped(ClipRecording recording)
    {
        Interlocked.Increment(ref _framesDropped);
        if (Interlocked.Increment(ref recording.Dropped) == 1)
        {
            LogDropped(_logger, recording.EventId, _options.QueueFrames);
        }
    }

    private void WriteLoop()
    {
        while (_queue.Take(out var recording, out var frame))
        {
            if (frame is null)
            {
                Guard(recording, () => Close(recording));
                continue;
            }

            try
            {
                Guard(recording, () => Write(recording, frame));
            }
            finally
            {
                frame.Release();
            }
        }
    }

    private void Write(ClipRecording recording, Frame frame)
    {
        if (recording.Stopped)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var path = _files.ClipPath(recording.EventId);
        if (recording.File is null)
        {
            // Created, synced, and only then named in the index: the index never points at a file a power cut took.
            recording.File = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.Read);
            DiskSync.Directory(_files.Directory);
            recording.LastSync = frame.CapturedAt;
            _store.SetClip(new ClipEntry(recording.EventId, "recording", 0, 0, frame.CapturedAt, null, null, null));
        }

        var header = ClipFormat.Header(frame.Length, frame.CapturedAt);
        RandomAccess.Write(recording.File, [header, frame.Jpeg, CrLf], recording.Length);
        recording.Parts.Add(new ClipPart(recording.Length, recording.Length + header.Length, frame.Length, frame.CapturedAt));
        var written = header.Length + frame.Length + 2;
        recording.Length += written;
        Interlocked.Increment(ref _framesWritten);
        Interlocked.Add(ref _bytesWritten, written);

        if (frame.CapturedAt - recording.LastSync >= SyncInterval)
        {
            DiskSync.File(recording.File, path);
            recording.LastSync = frame.CapturedAt;

            // The card filled up while recording: this clip ends here, no new one starts.
            if (_files.CheckFreeSpace())
            {
                recording.Stopped = true;
            }
        }

        Interlocked.Add(ref _writeTicks, Stopwatch.GetTimestamp() - started);
    }

    private void Close(ClipRecording recording)
    {
        if (recording.File is not { } file)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        DiskSync.File(file, _files.ClipPath(recording.EventId));
        file.Dispose();
        recording.File = null;
        var parts = recording.Parts;
        var thumbnail = parts.MinBy(p => Math.Abs((p.At - recording.ThumbnailAt).Ticks));
        _store.SetClip(new ClipEntry(
            recording.EventId, "complete", parts.Count, recording.Length, parts[0].At, parts[^1].At, thumbnail.JpegOffset, thumbnail.JpegLength));
        Interlocked.Increment(ref _clips);
        Interlocked.Add(ref _writeTicks, Stopwatch.GetTimestamp() - started);
        LogClip(_logger, recording.EventId, parts.Count, recording.Length, (parts[^1].At - parts[0].At).TotalSeconds, recording.Dropped);
        _files.Enforce();
    }

    /// <summary>A full or broken disk must not stop the recorder: the clip is given up (kept as partial), logged.</summary>
    private void Guard(ClipRecording recording, Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
        {
            LogWriteFailed(_logger, ex, recording.EventId);
            recording.Stopped = true;
            recording.File?.Dispose();
            recording.File = null;
            try
            {
                var parts = recording.Parts;
                _store.SetClip(new ClipEntry(recording.EventId, "partial", parts.Count, recording.Length,
                    parts.Count > 0 ? parts[0].At : null, parts.Count > 0 ? parts[^1].At : null,
                    parts.Count > 0 ? parts[0].JpegOffset : null, parts.Count > 0 ? parts[0].JpegLength : null));
            }
            catch (SqliteException)
            {
                // Start-up recovery finds the clip still marked recording and marks it partial.
            }
        }
    }

    public void Contribute(JsonObject status)
    {
        ArgumentNullException.ThrowIfNull(status);
        int active;
        lock (_gate)
        {
            active = _active.Count;
        }

        var clips = Interlocked.Read(ref _clips);
        status["recording"] = new JsonObject
        {
            ["paused"] = _files.Paused,
            ["freeMegabytes"] = _files.FreeBytes < 0 ? null : _files.FreeBytes / (1024 * 1024),
            ["minFreeMegabytes"] = _options.MinFreeMegabytes,
            ["diskMegabytes"] = Math.Round(_files.DiskBytes / (1024.0 * 1024), 1),
            ["maxDiskMegabytes"] = _options.MaxDiskMegabytes,
            ["preRollFrames"] = RingFrames,
            ["recordingNow"] = active,
            ["clips"] = clips,
            ["clipsSkippedWhilePaused"] = Interlocked.Read(ref _clipsSkipped),
            ["framesWritten"] = Interlocked.Read(ref _framesWritten),
            ["framesDropped"] = Interlocked.Read(ref _framesDropped),
            ["bytesWritten"] = Interlocked.Read(ref _bytesWritten),
            ["writeMillisecondsPerFrame"] = Interlocked.Read(ref _framesWritten) is var n && n > 0
                ? Math.Round(Interlocked.Read(ref _writeTicks) * 1000.0 / Stopwatch.Frequency / n, 3) : null,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Event {Id}: clip of {Frames} frames, {Bytes} bytes, {Seconds:0.0} s ({Dropped} frames dropped)")]
    private static partial void LogClip(ILogger logger, long id, int frames, long bytes, double seconds, int dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {Id}: the card is slower than the clip: frames dropped (more than Events:QueueFrames = {QueueFrames} waiting); counted in /api/status")]
    private static partial void LogDropped(ILogger logger, long id, int queueFrames);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event {Id}: not recorded, recording is paused for lack of free space")]
    private static partial void LogSkipped(ILogger logger, long id);

    [LoggerMessage(Level = LogLevel.Error, Message = "Retention or the free-space check failed; tried again in a minute")]
    private static partial void LogHousekeepingFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {Id}: the clip could not be written (kept as partial)")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, long id);
}
