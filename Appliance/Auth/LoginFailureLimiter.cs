using System.Net;
using System.Net.Sockets;

namespace Appliance.Auth;

/// <summary>
/// Limits password guesses (the login form and HTTP Basic) per client address in a fixed window that starts at the
/// address's first attempt. An attempt takes its place before the password is checked, so parallel guesses cannot
/// overrun the limit, and a correct password forgets the address. Past <see cref="WebAuthOptions.MaxLoginFailures"/>
/// the address is refused without a check (no PBKDF2) until its window ends. The client address is the connection's,
/// which on tunnel connections is the visitor's from X-Forwarded-For; IPv6 addresses count per /64, the block a single
/// host usually holds. Loopback is exempt while <see cref="WebAuthOptions.TrustLoopback"/> lets it in anyway.
/// </summary>
internal sealed partial class LoginFailureLimiter(WebAuthOptions options, TimeProvider time, ILogger<LoginFailureLimiter> logger)
{
    /// <summary>Addresses remembered at most: past it, expired ones are dropped, then the oldest.</summary>
    internal const int MaxTrackedAddresses = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    internal int TrackedAddresses
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Reserves one password check for the request's client; false, with how long it must wait, once that address has
    /// used up its attempts.
    /// </summary>
    public bool TryBeginAttempt(HttpContext context, out TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (IsExempt(context))
        {
            retryAfter = TimeSpan.Zero;
            return true;
        }

        return TryBeginAttempt(context.Connection.RemoteIpAddress, out retryAfter);
    }

    /// <summary>The request's client gave the right password: its earlier failures are forgotten.</summary>
    public void Succeeded(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!IsExempt(context))
        {
            Succeeded(context.Connection.RemoteIpAddress);
        }
    }

    internal bool TryBeginAttempt(IPAddress? address, out TimeSpan retryAfter)
    {
        var key = Key(address);
        var now = time.GetUtcNow();
        var window = options.LoginFailureWindow;
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && now - entry.WindowStart < window)
            {
                if (entry.Attempts >= options.MaxLoginFailures)
                {
                    retryAfter = entry.WindowStart + window - now;
                    if (!entry.Refused)
                    {
                        entry.Refused = true;
                        LogRefusing(logger, key, entry.Attempts, window, retryAfter);
                    }

                    return false;
                }

                entry.Attempts++;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            if (entry is null && _entries.Count >= MaxTrackedAddresses)
            {
                MakeRoom(now, window);
            }

            _entries[key] = new Entry(now) { Attempts = 1 };
            retryAfter = TimeSpan.Zero;
            return true;
        }
    }

    internal void Succeeded(IPAddress? address)
    {
        lock (_lock)
        {
            _entries.Remove(Key(address));
        }
    }

    /// <summary>Whole seconds for a Retry-After header (at least 1).</summary>
    public static string RetryAfterSeconds(TimeSpan wait) =>
        Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>"15 minutes", "1 minute", "30 seconds": for the message a person reads.</summary>
    public static string Describe(TimeSpan wait)
    {
        if (wait >= TimeSpan.FromMinutes(1))
        {
            var minutes = (long)Math.Ceiling(wait.TotalMinutes);
            return minutes == 1 ? "1 minute" : $"{minutes} minutes";
        }

        var seconds = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds));
        return seconds == 1 ? "1 second" : $"{seconds} seconds";
    }

    private bool IsExempt(HttpContext context) => options.TrustLoopback && context.IsLocal();

    private void MakeRoom(DateTimeOffset now, TimeSpan window)
    {
        foreach (var expired in _entries.Where(e => now - e.Value.WindowStart >= window).Select(e => e.Key).ToList())
        {
            _entries.Remove(expired);
        }

        if (_entries.Count >= MaxTrackedAddresses)
        {
            // Only an attacker with thousands of addresses gets here; each of them had its attempts anyway.
            _entries.Remove(_entries.MinBy(e => e.Value.WindowStart).Key);
        }
    }

    private static string Key(IPAddress? address)
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refusing password logins from {Remote} for {RetryAfter}: {Attempts} failed within {Window}")]
    private static partial void LogRefusing(ILogger logger, string remote, int attempts, TimeSpan window, TimeSpan retryAfter);

    private sealed class Entry(DateTimeOffset windowStart)
    {
        public DateTimeOffset WindowStart { get; } = windowStart;

        public int Attempts { get; set; }

        public bool Refused { get; set; }
    }
}
