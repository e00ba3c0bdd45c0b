using Microsoft.Data.Sqlite;

namespace Relay.WeCom;

/// <summary>A stored callback: the raw request as WeCom sent it.</summary>
internal sealed record StoredCallback(long Id, string Appliance, long ReceivedAt, string PathAndQuery, string? ContentType, byte[] Body, int Attempts, bool InFlight);

/// <summary>
/// The durable queue of WeCom callbacks (SQLite in the relay's state directory, synchronous=FULL so a row is on
/// disk before WeCom gets its 200). A row is "in flight" while the relay tries to forward it live and "queued" once
/// that failed; in-flight rows left by a crash are queued again at start. Order holds per appliance: a callback goes
/// live only when nothing else of its appliance is stored (in flight or queued), and replays stop at an in-flight row.
/// </summary>
internal sealed class CallbackStore : IDisposable
{
    private const int InFlight = 0;
    private const int Queued = 1;
    private readonly Lock _gate = new();
    private readonly SqliteConnection _connection;

    public CallbackStore(string path)
    {
        // The queue holds family members' messages (encrypted, but with their signatures): readable by the relay's
        // user only. Created 0600 before SQLite opens it (its -wal and -shm files take the same mode); an older
        // file is narrowed to it.
        if (!OperatingSystem.IsWindows())
        {
            if (!File.Exists(path))
            {
                using var created = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
            }
            else
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute("""
            CREATE TABLE IF NOT EXISTS callbacks(
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              appliance TEXT NOT NULL,
              received_at INTEGER NOT NULL,
              path_and_query TEXT NOT NULL,
              content_type TEXT,
              body BLOB NOT NULL,
              state INTEGER NOT NULL,
              attempts INTEGER NOT NULL DEFAULT 0,
              signature TEXT);
            CREATE INDEX IF NOT EXISTS callbacks_by_appliance ON callbacks(appliance, id);
            """);
        if (!HasColumn("signature"))
        {
            // A queue written by a relay before callbacks were kept once per signature.
            Execute("ALTER TABLE callbacks ADD COLUMN signature TEXT;");
        }

        Execute("CREATE INDEX IF NOT EXISTS callbacks_by_signature ON callbacks(appliance, signature);");
        Execute($"UPDATE callbacks SET state = {Queued} WHERE state = {InFlight};");
    }

    /// <summary>
    /// Stores a callback: in flight (to be forwarded live now) when <paramref name="live"/> and nothing else of
    /// <paramref name="appliance"/> is stored, else queued behind the others. Checked and stored at once, so two
    /// callbacks arriving together cannot both overtake a third. A callback with the same <paramref name="signature"/>
    /// (WeCom's msg_signature over timestamp, nonce and the encrypted message, lowercase) already stored is not stored
    /// twice: its row is returned, not live, with Duplicate set. Null (nothing stored) when <paramref name="appliance"/>
    /// already has <paramref name="maxStored"/> callbacks stored.
    /// </summary>
    public (long Id, bool Live, bool Duplicate)? Add(
        string appliance, long receivedAt, string pathAndQuery, string? contentType, byte[] body, string signature, bool live, int maxStored)
    {
        lock (_gate)
        {
            if (Find(appliance, signature) is { } existing)
            {
                return (existing, false, true);
            }

            var stored = Count(appliance);
            if (stored >= maxStored)
            {
                return null;
            }

            live = live && stored == 0;
            using var command = _connection.CreateCommand();
            command.CommandText = """
                INSERT INTO callbacks(appliance, received_at, path_and_query, content_type, body, state, signature)
                VALUES ($a, $r, $p, $c, $b, $s, $g); SELECT last_insert_rowid();
                """;
            command.Parameters.AddWithValue("$g", signature);
            command.Parameters.AddWithValue("$a", appliance);
            command.Parameters.AddWithValue("$r", receivedAt);
            command.Parameters.AddWithValue("$p", pathAndQuery);
            command.Parameters.AddWithValue("$c", (object?)contentType ?? DBNull.Value);
            command.Parameters.AddWithValue("$b", body);
            command.Parameters.AddWithValue("$s", live ? InFlight : Queued);
            return ((long)command.ExecuteScalar()!, live, false);
        }
    }

    /// <summary>The row holding the callback with this signature for <paramref name="appliance"/>, if one is stored.</summary>
    private long? Find(string appliance, string signature)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT id FROM callbacks WHERE appliance = $a AND signature = $g LIMIT 1";
        command.Parameters.AddWithValue("$a", appliance);
        command.Parameters.AddWithValue("$g", signature);
        return command.ExecuteScalar() is long id ? id : null;
    }

    private bool HasColumn(string column)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('callbacks') WHERE name = $n";
        command.Parameters.AddWithValue("$n", column);
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    public void MarkQueued(long id) => Execute($"UPDATE callbacks SET state = {Queued} WHERE id = {id};");

    public void Delete(long id) => Execute($"DELETE FROM callbacks WHERE id = {id};");

    public void RecordAttempt(long id) => Execute($"UPDATE callbacks SET attempts = attempts + 1 WHERE id = {id};");

    /// <summary>Stored callbacks for <paramref name="appliance"/>, queued or in flight (both hold later ones back: order must hold).</summary>
    public int Pending(string appliance)
    {
        lock (_gate)
        {
            return Count(appliance);
        }
    }

    /// <summary>The oldest stored callback of <paramref name="appliance"/>, in flight or queued (an in-flight one must not be overtaken).</summary>
    public StoredCallback? Oldest(string appliance)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"""
                SELECT id, appliance, received_at, path_and_query, content_type, body, attempts, state FROM callbacks
                WHERE appliance = $a ORDER BY id LIMIT 1
                """;
            command.Parameters.AddWithValue("$a", appliance);
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            return new StoredCallback(
                reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), (byte[])reader[5], reader.GetInt32(6),
                reader.GetInt32(7) == InFlight);
        }
    }

    private int Count(string appliance)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM callbacks WHERE appliance = $a";
        command.Parameters.AddWithValue("$a", appliance);
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Execute(string sql)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }

    public void Dispose() => _connection.Dispose();
}
