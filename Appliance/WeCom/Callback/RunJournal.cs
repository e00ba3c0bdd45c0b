using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Appliance.WeCom.Callback;

/// <summary>
/// The messages this appliance started to run, kept in the state directory (<see cref="FileName"/>) until their dedupe
/// expires, so that a WeCom retry or a relay replay arriving after the appliance restarted is not run a second time
/// (the dispatcher's own memory of them is lost with the process). One line per run: expiry, start (Unix seconds) and
/// a hash of the dedupe key. Each line is on the disk (fsync) before the run starts, so it survives a power cut too
/// (a Pi's usual way to stop): a relay pulse or a door opener must not run twice because the plug was pulled right after
/// it ran. The sync is made outside the lock, so messages arriving together share the file system's commit. Without a
/// state directory only the dispatcher's memory remains.
/// </summary>
public sealed partial class RunJournal : IDisposable
{
    public const string FileName = "wecom-runs";

    /// <summary>Entries kept, as many as the dispatcher remembers; a file compacts once it has twice the live ones.</summary>
    internal const int MaxEntries = 50_000;

    private const int CompactAtLeast = 4096;
    private readonly Lock _lock = new();
    private readonly Queue<Entry> _entries = new();
    private readonly Dictionary<string, long> _earlier = new(StringComparer.Ordinal);
    private readonly string? _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private FileStream? _file;
    private int _linesInFile;
    private bool _failing;
    private long _retryAt;

    public RunJournal(StateDirectory? state, TimeProvider time, ILogger<RunJournal> logger)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _time = time;
        _logger = logger;
        if (state is null)
        {
            return;
        }

        _path = state.File(FileName);
        try
        {
            Load();
            Compact();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(ex);
        }
    }

    /// <summary>When an earlier run of the appliance started this message, if it did within its dedupe time.</summary>
    public DateTimeOffset? StartedBeforeRestart(string dedupeKey)
    {
        ArgumentNullException.ThrowIfNull(dedupeKey);
        lock (_lock)
        {
            return _earlier.TryGetValue(Hash(dedupeKey), out var started) ? DateTimeOffset.FromUnixTimeSeconds(started) : null;
        }
    }

    /// <summary>Notes that this message starts now and must not run again before <paramref name="expires"/>.</summary>
    public void Record(string dedupeKey, DateTimeOffset expires)
    {
        ArgumentNullException.ThrowIfNull(dedupeKey);
        var entry = new Entry(Hash(dedupeKey), _time.GetUtcNow().ToUnixTimeSeconds(), expires.ToUnixTimeSeconds());
        SafeFileHandle? toSync = null;
        lock (_lock)
        {
            DropExpired();
            if (_entries.Count >= MaxEntries)
            {
                Forget(_entries.Dequeue());
            }

            _entries.Enqueue(entry);
            if (_path is null || (_failing && _time.GetTimestamp() < _retryAt))
            {
                return;
            }

            try
            {
                if (_file is null || _linesInFile >= Math.Max(CompactAtLeast, 2 * _entries.Count))
                {
                    Compact(); // synced there
                }
                else
                {
                    Write(_file, entry);
                    _file.Flush(); // to the kernel here, to the disk below, outside the lock
                    _linesInFile++;

                    // Held open for the sync below, even if a compaction or Dispose closes the stream meanwhile.
                    var added = false;
                    _file.SafeFileHandle.DangerousAddRef(ref added);
                    toSync = _file.SafeFileHandle;
                }

                _failing = false;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _file?.Dispose();
                _file = null;
                Fail(ex);
            }
        }

        if (toSync is not null)
        {
            try
            {
                DiskSync.File(toSync, _path!);
            }
            catch (IOException ex)
            {
                lock (_lock)
                {
                    Fail(ex);
                }
            }
            finally
            {
                toSync.DangerousRelease();
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    private void Load()
    {
        if (!File.Exists(_path))
        {
            return;
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var skipped = 0;
        foreach (var line in File.ReadLines(_path!))
        {
            var parts = line.Split(' ');
            if (parts.Length != 3
                || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var expires)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var started)
                || parts[2].Length != 32)
            {
                skipped++;
                continue;
            }

            if (expires > now)
            {
                _entries.Enqueue(new Entry(parts[2], started, expires));
                _earlier[parts[2]] = started;
                if (_entries.Count > MaxEntries)
                {
                    Forget(_entries.Dequeue());
                }
            }
        }

        if (skipped > 0)
        {
            LogSkipped(_logger, skipped, _path!);
        }
    }

    /// <summary>Rewrites the file with the live entries only (write aside, then rename), and reopens it for appending.</summary>
    private void Compact()
    {
        _file?.Dispose();
        _file = null;
        // After a power cut the file is the old one or the whole new one, never empty.
        AtomicFile.Write(_path!, AtomicFile.OwnerOnly, stream =>
        {
            foreach (var entry in _entries)
            {
                Write(stream, entry);
            }
        });
        _linesInFile = _entries.Count;
        _file = new FileStream(_path!, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 256);
    }

    private void DropExpired()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        while (_entries.TryPeek(out var oldest) && oldest.Expires <= now)
        {
            Forget(_entries.Dequeue());
        }
    }

    private void Forget(Entry entry)
    {
        if (_earlier.TryGetValue(entry.Hash, out var started) && started == entry.Started)
        {
            _earlier.Remove(entry.Hash);
        }
    }

    private static void Write(Stream stream, Entry entry)
    {
        Span<byte> line = stackalloc byte[64];
        var length = Encoding.ASCII.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"{entry.Expires} {entry.Started} {entry.Hash}\n"), line);
        stream.Write(line[..length]);
    }

    /// <summary>Logs the first failure of a series; the file is tried again a minute later, not on every message.</summary>
    private void Fail(Exception ex)
    {
        _retryAt = _time.GetTimestamp() + (60 * _time.TimestampFrequency);
        if (!_failing)
        {
            _failing = true;
            LogWriteFailed(_logger, _path!, ex.Message);
        }
    }

    /// <summary>Keys hold member names and event keys; the file holds only a hash of them, one fixed-size word.</summary>
    private static string Hash(string dedupeKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(dedupeKey)).AsSpan(0, 16));

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} unreadable lines in {Path} skipped")]
    private static partial void LogSkipped(ILogger logger, int count, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot keep the WeCom run journal {Path} ({Reason}): a message replayed after a restart could run twice")]
    private static partial void LogWriteFailed(ILogger logger, string path, string reason);

    private readonly record struct Entry(string Hash, long Started, long Expires);
}
