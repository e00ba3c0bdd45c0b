using Microsoft.Data.Sqlite;

namespace Appliance.Events;

/// <summary>What the index knows of an event's clip.</summary>
/// <param name="State"><c>recording</c>, <c>complete</c>, <c>partial</c> (not finished: found so at start-up, or
/// stopped by a write error) or <c>removed</c> (the disk budget took its files).</param>
/// <param name="ThumbnailOffset">Where the thumbnail's JPEG is in the clip file (it is one of its frames), or null.</param>
public sealed record ClipEntry(
    long EventId, string State, int Frames, long Bytes, DateTimeOffset? First, DateTimeOffset? Last, long? ThumbnailOffset, int? ThumbnailLength)
{
    public bool HasFiles => State is not "removed";
}

/// <summary>The clips table: one row per recorded event, in the same database (and transactions) as the events.</summary>
public sealed partial class EventStore
{
    private void CreateClipsTable() => Execute("""
        CREATE TABLE IF NOT EXISTS clips(
          event_id INTEGER PRIMARY KEY,
          state TEXT NOT NULL,
          frames INTEGER NOT NULL DEFAULT 0,
          bytes INTEGER NOT NULL DEFAULT 0,
          first_ms INTEGER,
          last_ms INTEGER,
          thumb_offset INTEGER,
          thumb_length INTEGER);
        """);

    /// <summary>Writes (or replaces) the clip row of an event.</summary>
    public void SetClip(ClipEntry clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                INSERT OR REPLACE INTO clips(event_id, state, frames, bytes, first_ms, last_ms, thumb_offset, thumb_length)
                SELECT $id, $state, $frames, $bytes, $first, $last, $to, $tl WHERE EXISTS (SELECT 1 FROM events WHERE id = $id);
                """;
            command.Parameters.AddWithValue("$id", clip.EventId);
            command.Parameters.AddWithValue("$state", clip.State);
            command.Parameters.AddWithValue("$frames", clip.Frames);
            command.Parameters.AddWithValue("$bytes", clip.Bytes);
            command.Parameters.AddWithValue("$first", clip.First is { } f ? f.ToUnixTimeMilliseconds() : DBNull.Value);
            command.Parameters.AddWithValue("$last", clip.Last is { } l ? l.ToUnixTimeMilliseconds() : DBNull.Value);
            command.Parameters.AddWithValue("$to", (object?)clip.ThumbnailOffset ?? DBNull.Value);
            command.Parameters.AddWithValue("$tl", (object?)clip.ThumbnailLength ?? DBNull.Value);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>The clip of an event, or null when it has none.</summary>
    public ClipEntry? GetClip(long eventId) => QueryClips("WHERE event_id = $id", c => c.Parameters.AddWithValue("$id", eventId)).FirstOrDefault();

    /// <summary>The clips of the given events (for the timeline page), by event id.</summary>
    public Dictionary<long, ClipEntry> ClipsOf(IEnumerable<long> eventIds)
    {
        ArgumentNullException.ThrowIfNull(eventIds);
        var ids = string.Join(",", eventIds.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return ids.Length == 0 ? [] : QueryClips($"WHERE event_id IN ({ids})", null).ToDictionary(c => c.EventId);
    }

    /// <summary>Clips in a state (<c>recording</c> at start-up: the ones a stop or power cut interrupted), oldest first.</summary>
    public List<ClipEntry> ClipsInState(string state) =>
        QueryClips("WHERE state = $state ORDER BY event_id", c => c.Parameters.AddWithValue("$state", state));

    /// <summary>Events that started before <paramref name="cutoff"/>, oldest first (for the age limit).</summary>
    public List<long> EventsBefore(DateTimeOffset cutoff)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT id FROM events WHERE start_ms < $cutoff ORDER BY id;";
            command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            using var reader = command.ExecuteReader();
            var ids = new List<long>();
            while (reader.Read())
            {
                ids.Add(reader.GetInt64(0));
            }

            return ids;
        }
    }

    private List<ClipEntry> QueryClips(string where, Action<SqliteCommand>? parameters)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT event_id, state, frames, bytes, first_ms, last_ms, thumb_offset, thumb_length FROM clips {where};";
            parameters?.Invoke(command);
            using var reader = command.ExecuteReader();
            var list = new List<ClipEntry>();
            while (reader.Read())
            {
                list.Add(new ClipEntry(
                    reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3),
                    reader.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                    reader.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                    reader.IsDBNull(6) ? null : reader.GetInt64(6), reader.IsDBNull(7) ? null : reader.GetInt32(7)));
            }

            return list;
        }
    }
}
