using System.Collections.Concurrent;
using Relay.Hosting;

namespace Relay.Tunnel;

/// <summary>
/// Limits tunnel logins per (address, claimed name) in a fixed window. An attempt takes its place before its proof is
/// checked, so parallel attempts cannot pass the limit; past it, attempts are refused without checking until the
/// window ends, and a successful login forgets the count. Keyed by name too, so someone guessing one name cannot lock
/// out another appliance behind the same proxy address.
/// </summary>
internal sealed class AuthFailureLimiter(RelayOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (int Count, DateTimeOffset WindowStart)> _attempts = new();

    /// <summary>Whether (address, name) has used up its attempts in the current window.</summary>
    public bool IsBlocked(string address, string name) =>
        _attempts.TryGetValue(Key(address, name), out var entry)
        && time.GetUtcNow() - entry.WindowStart < options.AuthFailureWindow && entry.Count >= options.MaxAuthFailures;

    /// <summary>
    /// Takes one attempt before the proof is checked; false (check nothing) once the limit is used up.
    /// <paramref name="last"/> is true for the attempt that used up the limit: if it fails, say once that the address is blocked.
    /// </summary>
    public bool TryBeginAttempt(string address, string name, out bool last)
    {
        var now = time.GetUtcNow();
        if (_attempts.Count > 10_000)
        {
            foreach (var stale in _attempts.Where(a => now - a.Value.WindowStart >= options.AuthFailureWindow).Select(a => a.Key).ToList())
            {
                _attempts.TryRemove(stale, out _);
            }
        }

        var allowed = false;
        var updated = _attempts.AddOrUpdate(
            Key(address, name),
            _ =>
            {
                allowed = true;
                return (1, now);
            },
            (_, entry) =>
            {
                if (now - entry.WindowStart >= options.AuthFailureWindow)
                {
                    allowed = true;
                    return (1, now);
                }

                allowed = entry.Count < options.MaxAuthFailures;
                return allowed ? (entry.Count + 1, entry.WindowStart) : entry;
            });
        last = allowed && updated.Count == options.MaxAuthFailures;
        return allowed;
    }

    public void RecordSuccess(string address, string name) => _attempts.TryRemove(Key(address, name), out _);

    private static string Key(string address, string name) => address + "|" + name;
}
