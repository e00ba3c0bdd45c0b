using System.Security.Cryptography;
using System.Text;

namespace Appliance.Streaming;

/// <summary>Why a stream was refused.</summary>
internal enum StreamRefusal
{
    None,

    /// <summary>This client address already has its share of streams open (429).</summary>
    Client,

    /// <summary>This signed view link already has its share of streams open (429).</summary>
    Link,

    /// <summary>The server has as many streams open as it serves at once (503).</summary>
    Total,
}

/// <summary>
/// Counts the streams open per client address, per signed view link and in all, and refuses one past a limit, so one
/// leaked link or one client cannot open thousands of streams (each costs a connection and socket buffers, even with
/// no per-viewer frame copies). Only open streams are counted: the tables hold at most <c>maxTotal</c> keys.
/// Shared by the appliance and the relay (Appliance.Shared). Refusals are logged one line a minute with a count of those held back.
/// </summary>
/// <remarks>
/// ASP.NET Core's rate limiter counts requests in windows or a global concurrency, not streams open per key with a
/// count that must fall exactly when each stream ends; this is a dictionary of counters under a lock.
/// </remarks>
internal sealed partial class StreamLimiter(int maxPerClient, int maxPerLink, int maxTotal, ILogger logger, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _clients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _links = new(StringComparer.Ordinal);
    private readonly Auth.LogThrottle _refusedLog = new(time, TimeSpan.FromMinutes(1));
    private int _total;

    /// <summary>Streams open now (all clients).</summary>
    public int Open
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>Takes a place for a stream from <paramref name="client"/>; null when refused (see <paramref name="refusal"/>).</summary>
    public IDisposable? TryAddClient(string client, out StreamRefusal refusal)
    {
        lock (_lock)
        {
            _clients.TryGetValue(client, out var open);
            refusal = _total >= maxTotal ? StreamRefusal.Total : open >= maxPerClient ? StreamRefusal.Client : StreamRefusal.None;
            if (refusal == StreamRefusal.None)
            {
                _clients[client] = open + 1;
                _total++;
                return new Lease(this, _clients, client, countsInTotal: true);
            }
        }

        Refused(refusal, client);
        return null;
    }

    /// <summary>Takes a place for a stream watched with the signed link <paramref name="link"/> (kept only as a hash).</summary>
    public IDisposable? TryAddLink(string link, string client, out StreamRefusal refusal)
    {
        var key = LinkKey(link);
        lock (_lock)
        {
            _links.TryGetValue(key, out var open);
            refusal = open >= maxPerLink ? StreamRefusal.Link : StreamRefusal.None;
            if (refusal == StreamRefusal.None)
            {
                _links[key] = open + 1;
                return new Lease(this, _links, key, countsInTotal: false);
            }
        }

        Refused(refusal, client);
        return null;
    }

    /// <summary>Writes the refusal: 429 for this client's or link's share, 503 when the server is full.</summary>
    public static Task WriteRefusalAsync(HttpContext context, StreamRefusal refusal)
    {
        var response = context.Response;
        response.StatusCode = refusal == StreamRefusal.Total ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests;
        response.Headers.RetryAfter = "10";
        response.Headers.CacheControl = "no-store";
        return response.WriteAsync(refusal switch
        {
            StreamRefusal.Client => "Too many streams open from this address; close one and try again.\n",
            StreamRefusal.Link => "Too many streams open with this link; close one and try again.\n",
            _ => "Too many streams open on this server; try again later.\n",
        });
    }

    private static string LinkKey(string link) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(link)), 0, 16);

    private void Refused(StreamRefusal refusal, string client)
    {
        if (_refusedLog.TryPass(out var heldBack))
        {
            var limit = refusal switch
            {
                StreamRefusal.Client => $"{maxPerClient} per client address",
                StreamRefusal.Link => $"{maxPerLink} per view link",
                _ => $"{maxTotal} in all",
            };
            LogRefused(logger, client, limit, heldBack);
        }
    }

    private void Release(Dictionary<string, int> table, string key, bool countsInTotal)
    {
        lock (_lock)
        {
            if (table.TryGetValue(key, out var open))
            {
                if (open <= 1)
                {
                    table.Remove(key);
                }
                else
                {
                    table[key] = open - 1;
                }
            }

            if (countsInTotal)
            {
                _total--;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream refused for {Client}: the limit of {Limit} is reached ({HeldBack} more refusals not logged since the last line)")]
    private static partial void LogRefused(ILogger logger, string client, string limit, int heldBack);

    private sealed class Lease(StreamLimiter owner, Dictionary<string, int> table, string key, bool countsInTotal) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(table, key, countsInTotal);
            }
        }
    }
}
