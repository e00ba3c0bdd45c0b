using System.Net;
using System.Net.Sockets;
using Relay.Hosting;

namespace Relay.Tunnel;

/// <summary>
/// Limits tunnel logins per (address, claimed name) in a fixed window. An attempt takes its place before its proof is
/// checked, so parallel attempts cannot pass the limit; past it, attempts are refused without checking until the
/// window ends, and a successful login forgets the count. Keyed by name too, so someone guessing one name cannot lock
/// out another appliance behind the same proxy address; the acceptor passes one placeholder for every name that is not
/// configured, so made-up names do not multiply an address's attempts. IPv6 addresses count per /64, the block one
/// host usually holds. At most <see cref="MaxTracked"/> entries are kept, so unauthenticated callers can neither grow
/// the table nor make each attempt scan it.
/// </summary>
internal sealed class AuthFailureLimiter(RelayOptions options, TimeProvider time)
{
    /// <summary>Entries kept at most: when full, expired ones are dropped (at most once a second), then the oldest.</summary>
    internal const int MaxTracked = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _attempts = new(StringComparer.Ordinal);
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    internal int Tracked
    {
        get
        {
            lock (_lock)
            {
                return _attempts.Count;
            }
        }
    }

    /// <summary>Whether (address, name) has used up its attempts in the current window.</summary>
    public bool IsBlocked(string address, string name)
    {
        lock (_lock)
        {
            return _attempts.TryGetValue(Key(address, name), out var entry)
                && time.GetUtcNow() - entry.WindowStart < options.AuthFailureWindow && entry.Count >= options.MaxAuthFailures;
        }
    }

    /// <summary>
    /// Takes one attempt before the proof is checked; false (check nothing) once the limit is used up.
    /// <paramref name="last"/> is true for the attempt that used up the limit: if it fails, say once that the address is blocked.
    /// </summary>
    public bool TryBeginAttempt(string address, string name, out bool last)
    {
        var key = Key(address, name);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_attempts.TryGetValue(key, out var entry) && now - entry.WindowStart < options.AuthFailureWindow)
            {
                if (entry.Count >= options.MaxAuthFailures)
                {
                    last = false;
                    return false;
                }

                entry.Count++;
                last = entry.Count == options.MaxAuthFailures;
                return true;
            }

            if (entry is null && _attempts.Count >= MaxTracked)
            {
                MakeRoom(now);
            }

            _attempts[key] = new Entry(now) { Count = 1 };
            last = options.MaxAuthFailures == 1;
            return true;
        }
    }

    public void RecordSuccess(string address, string name)
    {
        lock (_lock)
        {
            _attempts.Remove(Key(address, name));
        }
    }

    private void MakeRoom(DateTimeOffset now)
    {
        if (now >= _nextSweep)
        {
            _nextSweep = now + TimeSpan.FromSeconds(1);
            foreach (var expired in _attempts.Where(a => now - a.Value.WindowStart >= options.AuthFailureWindow).Select(a => a.Key).ToList())
            {
                _attempts.Remove(expired);
            }
        }

        if (_attempts.Count >= MaxTracked)
        {
            // Only a caller with thousands of addresses gets here; each of them had its attempts.
            _attempts.Remove(_attempts.MinBy(a => a.Value.WindowStart).Key);
        }
    }

    private static string Key(string address, string name)
    {
        if (IPAddress.TryParse(address, out var ip))
        {
            if (ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }
            else if (ip.AddressFamily == AddressFamily.InterNetworkV6)
            {
                Span<byte> bytes = stackalloc byte[16];
                ip.TryWriteBytes(bytes, out _);
                bytes[8..].Clear();
                return $"{new IPAddress(bytes)}/64|{name}";
            }

            return ip + "|" + name;
        }

        return address + "|" + name;
    }

    private sealed class Entry(DateTimeOffset windowStart)
    {
        public DateTimeOffset WindowStart { get; } = windowStart;

        public int Count { get; set; }
    }
}
