using System.Net;

namespace Appliance.Auth;

/// <summary>
/// Limits password guesses (the login form and HTTP Basic) per client address and overall (<see cref="GuessLimiter"/>):
/// past <see cref="WebAuthOptions.MaxLoginFailures"/> within the window an address is refused without a check (no
/// PBKDF2) until its window ends; an address that already failed is checked again only within
/// <see cref="WebAuthOptions.MaxPasswordChecksPerSecond"/> for all such addresses together; a full table refuses
/// addresses it does not know rather than forget a blocked one. The client address is the connection's, which on
/// tunnel connections is the visitor's from X-Forwarded-For. Loopback is exempt while
/// <see cref="WebAuthOptions.TrustLoopback"/> lets it in anyway. Refusals and wrong passwords are logged at most
/// once a minute each, with how many were held back.
/// </summary>
internal sealed partial class LoginFailureLimiter(WebAuthOptions options, TimeProvider time, ILogger<LoginFailureLimiter> logger)
{
    /// <summary>Addresses remembered at most (each within its window); past it, unknown addresses are refused.</summary>
    internal const int MaxTrackedAddresses = 16384;

    private readonly GuessLimiter _limiter = new(
        options.MaxLoginFailures, options.LoginFailureWindow, options.MaxPasswordChecksPerSecond, MaxTrackedAddresses, time);

    private readonly LogThrottle _refusalLog = new(time, TimeSpan.FromMinutes(1));
    private readonly LogThrottle _failureLog = new(time, TimeSpan.FromMinutes(1));

    internal int TrackedAddresses => _limiter.Tracked;

    /// <summary>
    /// Whether the request's client is refused right now (used before any cache of accepted passwords); a refusal is
    /// counted in the refusals' log line like those of <see cref="TryBeginAttempt(HttpContext, out TimeSpan)"/>.
    /// </summary>
    public bool IsBlocked(HttpContext context, out TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(context);
        retryAfter = TimeSpan.Zero;
        if (IsExempt(context))
        {
            return false;
        }

        var key = GuessLimiter.AddressKey(context.Connection.RemoteIpAddress);
        if (!_limiter.IsBlocked(key, out retryAfter))
        {
            return false;
        }

        LogRefusal(key, GuessVerdict.Blocked, retryAfter);
        return true;
    }

    /// <summary>
    /// Reserves one password check for the request's client; false, with how long it must wait, when the address has
    /// used up its attempts, the ceiling is reached for an address that already failed, or the table is full.
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

    /// <summary>A wrong password (form or HTTP Basic): logged, at most one line a minute.</summary>
    public void Failed(HttpContext context, string how)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_failureLog.TryPass(out var heldBack))
        {
            LogWrongPassword(logger, how, context.Connection.RemoteIpAddress?.ToString() ?? "?", heldBack);
        }
    }

    internal bool TryBeginAttempt(IPAddress? address, out TimeSpan retryAfter)
    {
        var key = GuessLimiter.AddressKey(address);
        var verdict = _limiter.TryBegin(key, out retryAfter, out _);
        if (verdict != GuessVerdict.Allowed)
        {
            LogRefusal(key, verdict, retryAfter);
        }

        return verdict == GuessVerdict.Allowed;
    }

    /// <summary>One line a minute at most, with how many refusals were not logged since the last.</summary>
    private void LogRefusal(string key, GuessVerdict verdict, TimeSpan retryAfter)
    {
        if (_refusalLog.TryPass(out var heldBack))
        {
            LogRefusing(logger, key, Reason(verdict), retryAfter, heldBack);
        }
    }

    internal void Succeeded(IPAddress? address) => _limiter.Succeeded(GuessLimiter.AddressKey(address));


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

    private static string Reason(GuessVerdict verdict) => verdict switch
    {
        GuessVerdict.Blocked => $"too many wrong passwords from it",
        GuessVerdict.Ceiling => "it failed before and wrong passwords from many addresses reached Web:MaxPasswordChecksPerSecond",
        _ => $"{MaxTrackedAddresses} addresses with recent wrong passwords are remembered already",
    };

    private bool IsExempt(HttpContext context) => options.TrustLoopback && context.IsLocal();

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refusing a password attempt from {Remote} for {RetryAfter}: {Reason} ({HeldBack} more refusals since the last such line)")]
    private static partial void LogRefusing(ILogger logger, string remote, string reason, TimeSpan retryAfter, int heldBack);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Wrong password ({How}) from {Remote} ({HeldBack} more wrong passwords since the last such line)")]
    private static partial void LogWrongPassword(ILogger logger, string how, string remote, int heldBack);
}
