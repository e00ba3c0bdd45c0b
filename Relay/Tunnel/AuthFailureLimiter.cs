using System.Collections.Concurrent;
using Relay.Hosting;

namespace Relay.Tunnel;

/// <summary>
/// Counts failed tunnel logins per (address, claimed name) in a fixed window; past the limit, attempts are refused
/// without checking. Keyed by name too, so someone guessing one name cannot lock out another appliance behind the
/// same proxy address.
/// </summary>
internal sealed class AuthFailureLimiter(RelayOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (int Count, DateTimeOffset WindowStart)> _failures = new();

    public bool IsBlocked(string address, string name)
    {
        if (!_failures.TryGetValue(Key(address, name), out var entry))
        {
            return false;
        }

        return time.GetUtcNow() - entry.WindowStart < options.AuthFailureWindow && entry.Count >= options.MaxAuthFailures;
    }

    /// <summary>Records a failure; true when this one reached the limit (log it once).</summary>
    public bool RecordFailure(string address, string name)
    {
        var now = time.GetUtcNow();
        if (_failures.Count > 10_000)
        {
            foreach (var stale in _failures.Where(f => now - f.Value.WindowStart >= options.AuthFailureWindow).Select(f => f.Key).ToList())
            {
                _failures.TryRemove(stale, out _);
            }
        }

        var updated = _failures.AddOrUpdate(
            Key(address, name),
            _ => (1, now),
            (_, e) => now - e.WindowStart >= options.AuthFailureWindow ? (1, now) : (e.Count + 1, e.WindowStart));
        return updated.Count == options.MaxAuthFailures;
    }

    public void RecordSuccess(string address, string name) => _failures.TryRemove(Key(address, name), out _);

    private static string Key(string address, string name) => address + "|" + name;
}
