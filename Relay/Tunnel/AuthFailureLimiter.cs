using Appliance.Auth;
using Relay.Hosting;

namespace Relay.Tunnel;

/// <summary>
/// Limits wrong tunnel logins per (address, claimed name) and /status passwords per address, with the appliance's
/// design (<see cref="GuessLimiter"/>, in Appliance.Shared): a fixed window per key; an attempt takes its place
/// before the secret is checked, so parallel attempts cannot pass the limit; a success forgets the count; the table
/// never forgets a key inside its window to make room (new keys are refused while it is full); keys that already
/// failed get further checks only within <see cref="RelayOptions.MaxAuthChecksPerSecond"/> for all of them together.
/// Keyed by name too, so someone guessing one name cannot lock out another appliance behind the same address; the
/// acceptor passes one placeholder for every name that is not configured, so made-up names do not multiply an
/// address's attempts. IPv6 addresses count per /64.
/// </summary>
internal sealed class AuthFailureLimiter(RelayOptions options, TimeProvider time)
{
    /// <summary>Entries kept at most; when full (every one inside its window), new keys are refused.</summary>
    internal const int MaxTracked = 16384;

    private readonly GuessLimiter _limiter = new(
        options.MaxAuthFailures, options.AuthFailureWindow, options.MaxAuthChecksPerSecond, MaxTracked, time);

    internal int Tracked => _limiter.Tracked;

    /// <summary>Whether (address, name) has used up its attempts in the current window.</summary>
    public bool IsBlocked(string address, string name) => _limiter.IsBlocked(Key(address, name), out _);

    /// <summary>
    /// Takes one attempt before the secret is checked; false (check nothing) once the limit is used up, the ceiling is
    /// reached for a key that already failed, or the table is full. <paramref name="last"/> is true for the attempt
    /// that used up the limit: if it fails, say once that the address is blocked.
    /// </summary>
    public bool TryBeginAttempt(string address, string name, out bool last) =>
        _limiter.TryBegin(Key(address, name), out _, out last) == GuessVerdict.Allowed;

    /// <summary>Forgets the key's count; returns how many attempts it had (failures before a success).</summary>
    public int RecordSuccess(string address, string name) => _limiter.Succeeded(Key(address, name));

    private static string Key(string address, string name) =>
        (System.Net.IPAddress.TryParse(address, out var ip) ? GuessLimiter.AddressKey(ip) : address) + "|" + name;
}
