using System.Net;
using System.Net.Sockets;

namespace Appliance.Auth;

/// <summary>
/// Limits password (or secret) guesses: per key (a client address, for the relay an address and a name) in a fixed
/// window that starts at the key's first attempt, and globally by a ceiling on repeated guesses per second. The
/// appliance's login limiter and the relay's limiter both use it (both reference Appliance.Shared).
/// <list type="bullet">
/// <item>An attempt takes its place before the secret is checked, so parallel guesses cannot overrun the limit; a
/// success forgets the key.</item>
/// <item>The table never forgets a key inside its window to make room: when it is full, a key it does not know is
/// refused (<see cref="GuessVerdict.TableFull"/>) until an entry expires. ASP.NET Core's rate limiter partitions
/// (System.Threading.RateLimiting) would evict idle partitions and so hand a blocked address fresh attempts.</item>
/// <item>The ceiling: a key that already failed in its window needs a token from a global bucket of
/// <c>ceilingPerSecond</c> tokens (refilled continuously, burst of one second's worth); every attempt takes one when
/// there is one. Guessing from many addresses is slowed to the ceiling after each address's first try, while a key
/// with no failures is always checked, so a family member's correct login is never refused because of strangers.</item>
/// </list>
/// </summary>
internal sealed class GuessLimiter(int maxFailures, TimeSpan window, double ceilingPerSecond, int capacity, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private double _tokens = Math.Max(1, ceilingPerSecond);
    private long _refilledAt = time.GetTimestamp();
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    public int Capacity => capacity;

    public int Tracked
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Whether <paramref name="key"/> has used up its attempts in its current window (nothing is taken).</summary>
    public bool IsBlocked(string key, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && now - entry.WindowStart < window && entry.Attempts >= maxFailures)
            {
                retryAfter = entry.WindowStart + window - now;
                return true;
            }

            retryAfter = TimeSpan.Zero;
            return false;
        }
    }

    /// <summary>
    /// Takes one attempt for <paramref name="key"/> before its secret is checked; anything but
    /// <see cref="GuessVerdict.Allowed"/> means: check nothing, refuse, and let the client wait <paramref name="retryAfter"/>.
    /// <paramref name="last"/> is true for the attempt that used up the key's allowance.
    /// </summary>
    public GuessVerdict TryBegin(string key, out TimeSpan retryAfter, out bool last)
    {
        var now = time.GetUtcNow();
        last = false;
        lock (_lock)
        {
            var known = _entries.TryGetValue(key, out var entry);
            if (known && now - entry!.WindowStart >= window)
            {
                _entries.Remove(key);
                known = false;
            }

            if (known)
            {
                if (entry!.Attempts >= maxFailures)
                {
                    retryAfter = entry.WindowStart + window - now;
                    return GuessVerdict.Blocked;
                }

                // A repeat guess: only within the global ceiling.
                if (!TryTakeToken())
                {
                    retryAfter = TimeSpan.FromSeconds(1);
                    return GuessVerdict.Ceiling;
                }

                entry.Attempts++;
                last = entry.Attempts == maxFailures;
                retryAfter = TimeSpan.Zero;
                return GuessVerdict.Allowed;
            }

            if (_entries.Count >= capacity && !MakeRoom(now))
            {
                // Every entry is inside its window: forgetting one would give a guesser fresh attempts.
                retryAfter = _entries.Values.Min(e => e.WindowStart) + window - now;
                return GuessVerdict.TableFull;
            }

            TryTakeToken(); // a first try is never refused by the ceiling, but it counts toward it
            _entries[key] = new Entry(now) { Attempts = 1 };
            last = maxFailures == 1;
            retryAfter = TimeSpan.Zero;
            return GuessVerdict.Allowed;
        }
    }

    /// <summary>The secret was right: the key's earlier attempts are forgotten; returns how many it had in its window.</summary>
    public int Succeeded(string key)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            return _entries.Remove(key, out var entry) && now - entry.WindowStart < window ? entry.Attempts : 0;
        }
    }

    /// <summary>"203.0.113.7"; IPv6 per /64 (the block one host usually holds); IPv4-mapped IPv6 as IPv4.</summary>
    public static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "?";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return $"{new IPAddress(bytes)}/64";
    }

    private bool TryTakeToken()
    {
        var now = time.GetTimestamp();
        var burst = Math.Max(1, ceilingPerSecond);
        _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_refilledAt, now).TotalSeconds * ceilingPerSecond));
        _refilledAt = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }

    /// <summary>Drops expired entries (a full scan at most once a second); true when there is room now.</summary>
    private bool MakeRoom(DateTimeOffset now)
    {
        if (now >= _nextSweep)
        {
            _nextSweep = now + TimeSpan.FromSeconds(1);
            foreach (var expired in _entries.Where(e => now - e.Value.WindowStart >= window).Select(e => e.Key).ToList())
            {
                _entries.Remove(expired);
            }
        }

        return _entries.Count < capacity;
    }

    private sealed class Entry(DateTimeOffset windowStart)
    {
        public DateTimeOffset WindowStart { get; } = windowStart;

        public int Attempts { get; set; }
    }
}

/// <summary>What <see cref="GuessLimiter.TryBegin"/> decided.</summary>
internal enum GuessVerdict
{
    /// <summary>Check the secret.</summary>
    Allowed,

    /// <summary>This key used up its attempts in its window.</summary>
    Blocked,

    /// <summary>This key already failed and the global ceiling on repeated guesses is reached: try again in a second.</summary>
    Ceiling,

    /// <summary>The table is full of keys inside their windows and this one is new.</summary>
    TableFull,
}

/// <summary>
/// Lets one log line through per interval and counts the ones held back, so a stranger's flood of wrong passwords
/// or abandoned handshakes costs one line a minute, not one line each, while the first of a burst is logged at once.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly Lock _lock = new();
    private long _nextAt = long.MinValue;
    private int _held;

    /// <summary>True when a line may be written now; <paramref name="heldBack"/> is how many were not since the last.</summary>
    public bool TryPass(out int heldBack)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_nextAt != long.MinValue && now < _nextAt)
            {
                _held++;
                heldBack = 0;
                return false;
            }

            _nextAt = now + (long)(interval.TotalSeconds * time.TimestampFrequency);
            heldBack = _held;
            _held = 0;
            return true;
        }
    }
}
