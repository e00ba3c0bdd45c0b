using Microsoft.Data.Sqlite;

namespace Appliance.Events;

/// <summary>One entry of the timeline; <see cref="End"/> is null while the event is under way (or has no length).</summary>
public sealed record EventEntry(long Id, string Kind, DateTimeOffset Start, DateTimeOffset? End, string? Source, string? By);

/// <summary>
/// The events index: SQLite in the state directory's <c>events/</c> (WAL, so readers of the timeline never wait for
/// the analyser's writes, and a power cut loses at most the last transaction, never the index). One connection under
/// a lock: writes are a few per event, not per frame.
/// </summary>
public sealed partial class EventStore : IDisposable
{
    /// <summary>The kinds of event the timeline knows.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["motion", "press", "switch", "camera", "tunnel", "wecom"];

    private readonly Lock _gate = new();
    private readonly SqliteConnection _connection;

    public EventStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        // FULL, not NORMAL: in WAL mode NORMAL leaves every commit since the last checkpoint unsynced, and the power-cut
        // lane lost a press and its clip's row that way (the clip file, synced, was then an orphan). Writes are a few
        // per event, so a sync each is cheap.
        Execute("PRAGMA synchronous=FULL;");
        Execute("""
            CREATE TABLE IF NOT EXISTS events(
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              kind TEXT NOT NULL,
              start_ms INTEGER NOT NULL,
              end_ms INTEGER,
              source TEXT,
              by TEXT);
            CREATE INDEX IF NOT EXISTS events_by_kind ON events(kind, id);
            """);
        CreateClipsTable();
    }

    /// <summary>Adds an event and returns its id.</summary>
    public long Add(string kind, DateTimeOffset start, DateTimeOffset? end, string? source, string? by)
    {
        if (!Kinds.Contains(kind))
        {
            throw new ArgumentException($"unknown event kind '{kind}'", nameof(kind));
        }

        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT INTO events(kind, start_ms, end_ms, source, by) VALUES ($k, $s, $e, $src, $by); SELECT last_insert_rowid();";
            command.Parameters.AddWithValue("$k", kind);
            command.Parameters.AddWithValue("$s", start.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$e", end is { } e ? e.ToUnixTimeMilliseconds() : DBNull.Value);
            command.Parameters.AddWithValue("$src", (object?)source ?? DBNull.Value);
            command.Parameters.AddWithValue("$by", (object?)by ?? DBNull.Value);
            return (long)command.ExecuteScalar()!;
        }
    }

    /// <summary>Sets the end of an event under way.</summary>
    public void SetEnd(long id, DateTimeOffset end)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "UPDATE events SET end_ms = $e WHERE id = $id;";
            command.Parameters.AddWithValue("$e", end.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$id", id);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Up to <paramref name="limit"/> events, newest first, older than <paramref name="before"/> when given.</summary>
    public IReadOnlyList<EventEntry> List(long? before, int limit, string? kind)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                SELECT id, kind, start_ms, end_ms, source, by FROM events
                WHERE ($before IS NULL OR id < $before) AND ($kind IS NULL OR kind = $kind)
                ORDER BY id DESC LIMIT $limit;
                """;
            command.Parameters.AddWithValue("$before", (object?)before ?? DBNull.Value);
            command.Parameters.AddWithValue("$kind", (object?)kind ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var list = new List<EventEntry>();
            while (reader.Read())
            {
                list.Add(new EventEntry(
                    reader.GetInt64(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                    reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5)));
            }

            return list;
        }
    }

    /// <summary>Deletes an event; false when there is none with that id.</summary>
    public bool Delete(long id)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM clips WHERE event_id = $id; DELETE FROM events WHERE id = $id; SELECT changes();";
            command.Parameters.AddWithValue("$id", id);
            return (long)command.ExecuteScalar()! == 1;
        }
    }

    /// <summary>The journal mode SQLite reports (wal), for tests and doctor.</summary>
    public string JournalMode()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode;";
            return (string)command.ExecuteScalar()!;
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _connection.Dispose();
        }
    }
}
