namespace Appliance.Events;

/// <summary>
/// How the rest of the appliance puts things on the timeline that are not motion: switches (who turned what on),
/// camera lost/back, tunnel down/up, WeCom commands. One interface for all of them, so a feature only says what
/// happened; the events feature decides where it goes (the SQLite index). Never throws: a full disk is logged, the
/// switch or the reconnect goes on.
/// </summary>
public interface IEventRecorder
{
    /// <summary>Something that happened at one moment (start and end are both <paramref name="at"/>).</summary>
    void Record(string kind, DateTimeOffset at, string? source, string? by);

    /// <summary>The start of something that lasts (camera lost, tunnel down); its id for <see cref="End"/>, null when it could not be written.</summary>
    long? Begin(string kind, DateTimeOffset start, string? source, string? by);

    /// <summary>The end of what <see cref="Begin"/> started.</summary>
    void End(long id, DateTimeOffset end);
}

/// <summary>The recorder over the events index.</summary>
internal sealed partial class IndexEventRecorder(EventStore store, ILogger<IndexEventRecorder> logger) : IEventRecorder
{
    public void Record(string kind, DateTimeOffset at, string? source, string? by) =>
        Guard(kind, () => store.Add(kind, at, at, source, by));

    public long? Begin(string kind, DateTimeOffset start, string? source, string? by) =>
        Guard(kind, () => store.Add(kind, start, null, source, by));

    public void End(long id, DateTimeOffset end) =>
        Guard("end", () =>
        {
            store.SetEnd(id, end);
            return id;
        });

    private long? Guard(string kind, Func<long> write)
    {
        try
        {
            return write();
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // InvalidOperationException/ObjectDisposedException: the store was closed while the host stops.
            LogWriteFailed(logger, ex, kind);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Events: a {Kind} event could not be written to the index")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string kind);
}
