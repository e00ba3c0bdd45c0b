namespace Appliance.Auth;

/// <summary>The <c>Web</c> section: who may watch from other machines (loopback never needs a login).</summary>
public sealed class WebAuthOptions
{
    public const string SectionName = "Web";

    /// <summary>The user name for HTTP Basic (Home Assistant, VLC, ffmpeg). The login form asks only for the password.</summary>
    public string User { get; set; } = "family";

    /// <summary>The password in clear; keep it in the root-only /etc/appliance/secrets.json. Prefer <see cref="PasswordHash"/>.</summary>
    public string Password { get; set; } = "";

    /// <summary>A hash printed by <c>Appliance hash-password</c>.</summary>
    public string PasswordHash { get; set; } = "";

    /// <summary>Whichever password setting is in use: login sessions are bound to it, so changing it logs everyone out.</summary>
    internal string PasswordSetting => PasswordHash.Length > 0 ? PasswordHash : Password;

    /// <summary>
    /// Whether requests from this machine (loopback, not the tunnel) skip the login. Turn it off when a reverse proxy
    /// on the same machine (nginx, Caddy) forwards outside visitors, or they would all look local.
    /// </summary>
    public bool TrustLoopback { get; set; } = true;

    /// <summary>How long a login lasts.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Password attempts (login form or HTTP Basic) allowed per client address within <see cref="LoginFailureWindow"/>;
    /// past it the address gets 429 without its password being checked until the window ends. A correct password
    /// clears the count. IPv6 addresses count per /64; a trusted loopback is never limited.
    /// </summary>
    public int MaxLoginFailures { get; set; } = 10;

    /// <summary>How long an address's attempts count, from its first one: also how long it waits once refused.</summary>
    public TimeSpan LoginFailureWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Password checks per second, all addresses together, for addresses that already gave a wrong password within
    /// their window (a first try from an address is always checked, so a family member is never locked out by strangers).
    /// Slows guessing from many addresses to this rate.
    /// </summary>
    public double MaxPasswordChecksPerSecond { get; set; } = 5;

    /// <summary>
    /// Streams (<c>/stream</c>) one client address may have open at once (IPv6 per /64); more get 429. The relay's
    /// shared stream is not counted: the relay limits its own viewers.
    /// </summary>
    public int MaxStreamsPerClient { get; set; } = 8;

    /// <summary>Streams one signed view link may have open at once, from any address; more get 429.</summary>
    public int MaxStreamsPerLink { get; set; } = 4;

    /// <summary>Streams open at once in all; more get 503 (a Pi Zero 2 serves about this many at full rate).</summary>
    public int MaxStreams { get; set; } = 64;

    /// <summary>Connections open at once on every address the appliance listens on; past it new ones are closed unanswered.</summary>
    public int MaxConnections { get; set; } = 512;

    public bool HasPassword => Password.Length > 0 || PasswordHash.Length > 0;

    /// <summary>
    /// Web:Password and Web:PasswordHash from different layers: the later layer's stands (a password chosen in the
    /// browser over an older one in secrets.json; <c>--Web:Password=…</c> on the command line over the browser's).
    /// Both in one layer stay an error (<see cref="Validate"/>).
    /// </summary>
    internal static void PreferLaterPasswordSource(IConfiguration configuration, WebAuthOptions options)
    {
        if (options.Password.Length == 0 || options.PasswordHash.Length == 0 || configuration is not IConfigurationRoot root)
        {
            return;
        }

        var providers = root.Providers.ToList();
        int LastSetting(string key) => providers.FindLastIndex(p => p.TryGet($"{SectionName}:{key}", out var value) && !string.IsNullOrEmpty(value));
        var clear = LastSetting(nameof(Password));
        var hashed = LastSetting(nameof(PasswordHash));
        if (clear > hashed)
        {
            options.PasswordHash = "";
        }
        else if (hashed > clear)
        {
            options.Password = "";
        }
    }

    public IEnumerable<string> Validate()
    {
        if (PasswordHash.Length > 0 && !PasswordHasher.IsWellFormed(PasswordHash))
        {
            yield return "Web:PasswordHash is not a hash printed by 'Appliance hash-password'.";
        }

        if (Password.Length > 0 && PasswordHash.Length > 0)
        {
            yield return "Set either Web:Password or Web:PasswordHash, not both.";
        }

        if (string.IsNullOrWhiteSpace(User) || User.Contains(':', StringComparison.Ordinal))
        {
            yield return $"Web:User must be a non-empty name without ':' (got '{User}').";
        }

        if (SessionLifetime <= TimeSpan.Zero)
        {
            yield return $"Web:SessionLifetime must be positive (got {SessionLifetime}).";
        }

        if (MaxLoginFailures < 1)
        {
            yield return $"Web:MaxLoginFailures must be at least 1 (got {MaxLoginFailures}).";
        }

        if (!(MaxPasswordChecksPerSecond >= 0.01 && MaxPasswordChecksPerSecond <= 1000))
        {
            yield return $"Web:MaxPasswordChecksPerSecond must be from 0.01 to 1000 (got {MaxPasswordChecksPerSecond}).";
        }

        if (LoginFailureWindow <= TimeSpan.Zero)
        {
            yield return $"Web:LoginFailureWindow must be positive (got {LoginFailureWindow}).";
        }

        if (MaxStreamsPerClient < 1 || MaxStreamsPerLink < 1 || MaxStreams < 1 || MaxConnections < 1)
        {
            yield return "Web:MaxStreamsPerClient, Web:MaxStreamsPerLink, Web:MaxStreams and Web:MaxConnections must be at least 1.";
        }
    }
}
