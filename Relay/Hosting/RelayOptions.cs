using System.Globalization;

namespace Relay.Hosting;

/// <summary>The <c>Relay</c> section.</summary>
public sealed class RelayOptions
{
    public const string SectionName = "Relay";

    public static readonly string[] DefaultEgressAllowList = ["qyapi.weixin.qq.com", "api.weixin.qq.com"];

    /// <summary>The appliances that may connect, by name (<c>Relay:Appliances:NAME:Secret</c> …).</summary>
    public Dictionary<string, ApplianceEntry> Appliances { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long the shared MJPEG upstream stays open after its last viewer leaves.</summary>
    public TimeSpan StreamLinger { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A cached stream frame younger than this answers <c>/NAME/snapshot</c> without asking the appliance.</summary>
    public TimeSpan SnapshotMaxAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a WeCom callback may wait for the appliance before the relay answers 200 and stores it (WeCom gives up at 5 s).</summary>
    public TimeSpan CallbackTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// WeCom callbacks whose signed timestamp is further than this from now are refused (403, not stored): a callback
    /// signed long ago and posted again would otherwise be stored and run on replay. The appliance's
    /// <c>WeCom:MaxClockSkew</c> (default 5 minutes too) is the check for callbacks it gets live.
    /// </summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest WeCom callback body accepted (bytes).</summary>
    public int MaxCallbackBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// WeCom callbacks kept per appliance (queued or in flight); at the cap a new one is refused with 503 and a warning
    /// instead of stored, so the queue cannot fill the disk (a request already stored is kept once, not again). At the
    /// default and <see cref="MaxCallbackBytes"/> an appliance's queue holds at most about 64 MB.
    /// </summary>
    public int MaxStoredCallbacks { get; set; } = 1000;

    /// <summary>
    /// Failed replays (5xx, 408, 429, no answer within 30 s) before a stored callback is given up, logged as an error,
    /// so one the appliance can never handle does not hold back every later message. A replay cut off by the tunnel
    /// dropping is not counted; one the appliance refuses with another 4xx (signature, age, decryption) is dropped at
    /// once with a warning giving its reason, since it would be refused again.
    /// </summary>
    public int MaxReplayAttempts { get; set; } = 10;

    /// <summary>
    /// Hosts the appliance may reach through egress: <c>host</c> (port 443) or <c>host:port</c>, an IPv6 address in
    /// brackets (<c>[::1]:8443</c>); default the two WeChat API hosts.
    /// </summary>
    public string[]? EgressAllowList { get; set; }

    public TlsOptions Tls { get; set; } = new();

    /// <summary>User name for <c>/status</c> (HTTP Basic).</summary>
    public string AdminUser { get; set; } = "admin";

    /// <summary>Password for <c>/status</c>; without one <c>/status</c> answers 403.</summary>
    public string AdminPassword { get; set; } = "";

    /// <summary>Where the callback queue lives; default <c>$STATE_DIRECTORY</c>, /var/lib/relay or ~/.local/state/relay.</summary>
    public string StateDirectory { get; set; } = "";

    /// <summary>Believe X-Forwarded-For/Proto from a proxy on loopback (nginx or Caddy in front of the relay).</summary>
    public bool TrustProxyHeaders { get; set; }

    /// <summary>HTTP/2 and WebSocket ping interval on tunnels.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a ping may go unanswered before the tunnel counts as dead.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>Failed tunnel logins allowed per address and name (and /status logins per address) within <see cref="AuthFailureWindow"/>; more are refused unchecked.</summary>
    public int MaxAuthFailures { get; set; } = 10;

    public TimeSpan AuthFailureWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Secret checks per second, all addresses together, for (address, name) keys that already failed within their
    /// window: slows guessing from many addresses. A first try is always checked, and a correct tunnel login always wins.
    /// </summary>
    public double MaxAuthChecksPerSecond { get; set; } = 5;

    /// <summary>
    /// Streams one visitor address may have open at once through the relay (IPv6 per /64, the proxy's
    /// X-Forwarded-For when <see cref="TrustProxyHeaders"/>); more get 429. Checked before the appliance is asked.
    /// </summary>
    public int MaxStreamsPerClient { get; set; } = 10;

    /// <summary>Streams one signed view link may have open at once, from any address; more get 429.</summary>
    public int MaxStreamsPerLink { get; set; } = 4;

    /// <summary>Streams open at once through the relay, all appliances together; more get 503 (about 0.15 MB each).</summary>
    public int MaxStreams { get; set; } = 500;

    /// <summary>Connections open at once (visitors and tunnels); past it new ones are closed unanswered.</summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// Serve more than one appliance under <c>/NAME/</c> paths of one host. They then share one browser origin: a
    /// page of one appliance can act with the visitor's login on another. Without this setting a relay with more
    /// than one appliance routes by <see cref="ApplianceEntry.Hosts"/> only (each appliance its own origin), and
    /// refuses to start while one has no host; with it, path prefixes work for all and a warning is logged at start.
    /// </summary>
    public bool AllowSharedOriginPaths { get; set; }

    /// <summary>Whether <c>/NAME/</c> paths are routed: one appliance, or several with <see cref="AllowSharedOriginPaths"/>.</summary>
    public bool RoutesByPath => Appliances.Count <= 1 || AllowSharedOriginPaths;

    public IReadOnlyList<string> EffectiveEgressAllowList => EgressAllowList is { Length: > 0 } list ? list : DefaultEgressAllowList;

    /// <summary>
    /// One <see cref="EgressAllowList"/> entry: <c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c>
    /// (port 443 when left out, otherwise 1-65535); the host is a DNS name or an IP address, IPv6 without brackets.
    /// </summary>
    internal static bool TryParseEgressEntry(string entry, out string host, out int port)
    {
        host = "";
        port = 443;
        var hostPart = entry;
        string? portPart = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < entry.Length && entry[close + 1] != ':'))
            {
                return false;
            }

            hostPart = entry[1..close];
            portPart = close + 1 < entry.Length ? entry[(close + 2)..] : null;
            if (Uri.CheckHostName(hostPart) != UriHostNameType.IPv6)
            {
                return false;
            }
        }
        else
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                (hostPart, portPart) = (entry[..colon], entry[(colon + 1)..]);
            }

            if (Uri.CheckHostName(hostPart) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
            {
                return false;
            }
        }

        if (portPart is not null && (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            return false;
        }

        host = hostPart;
        return true;
    }

    public IEnumerable<string> Validate()
    {
        var reserved = new[] { "_tunnel", "status", "healthz" };
        var hostOwners = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, entry) in Appliances)
        {
            foreach (var host in entry.Hosts ?? [])
            {
                // A fully qualified name's trailing dot (cam.example.com.) names the same host.
                var bare = host.EndsWith('.') ? host[..^1] : host;
                if (Uri.CheckHostName(bare) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6))
                {
                    yield return $"Relay:Appliances:{name}:Hosts: '{host}' is not a host name (give it without scheme, port or path, e.g. cam.example.com).";
                }
                else if (!hostOwners.TryAdd(bare, name))
                {
                    yield return $"Relay:Appliances:{name}:Hosts: '{host}' is already the host of {hostOwners[bare]}.";
                }
            }

            if (!TunnelProtocol.TunnelHandshake.IsValidName(name) || reserved.Contains(name))
            {
                yield return $"Relay:Appliances:{name}: names are 1-63 lowercase letters, digits or '-', and not {string.Join(", ", reserved)}.";
            }

            if (entry.Secret.Length < 16)
            {
                yield return $"Relay:Appliances:{name}:Secret must be at least 16 characters.";
            }
        }

        for (var i = 0; i < (EgressAllowList?.Length ?? 0); i++)
        {
            if (!TryParseEgressEntry(EgressAllowList![i], out _, out _))
            {
                yield return $"Relay:EgressAllowList:{i}: '{EgressAllowList[i]}' is not a host or host:port with a port from 1 to 65535 " +
                    "(no scheme or path, e.g. qyapi.weixin.qq.com or api.example.com:8443; an IPv6 address in brackets, e.g. [2001:db8::1]:443).";
            }
        }

        if (StreamLinger < TimeSpan.Zero)
        {
            yield return $"Relay:StreamLinger must not be negative (got {StreamLinger}).";
        }

        if (CallbackTimeout <= TimeSpan.Zero || CallbackTimeout >= TimeSpan.FromSeconds(5))
        {
            yield return $"Relay:CallbackTimeout must be between 0 and 5 s, WeCom's deadline (got {CallbackTimeout}).";
        }

        if (PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero || PingInterval + PingTimeout > TimeSpan.FromSeconds(20))
        {
            yield return "Relay:PingInterval and Relay:PingTimeout must be positive and add up to at most 20 s.";
        }

        if ((Tls.CertificatePath.Length > 0) != (Tls.KeyPath.Length > 0))
        {
            yield return "Relay:Tls:CertificatePath and Relay:Tls:KeyPath go together.";
        }

        if (!(MaxAuthChecksPerSecond >= 0.01 && MaxAuthChecksPerSecond <= 1000))
        {
            yield return $"Relay:MaxAuthChecksPerSecond must be from 0.01 to 1000 (got {MaxAuthChecksPerSecond}).";
        }

        if (MaxAuthFailures < 1 || MaxCallbackBytes < 1024)
        {
            yield return "Relay:MaxAuthFailures must be at least 1 and Relay:MaxCallbackBytes at least 1024.";
        }

        if (MaxClockSkew <= TimeSpan.Zero)
        {
            yield return $"Relay:MaxClockSkew must be positive (got {MaxClockSkew}).";
        }

        if (MaxReplayAttempts < 1)
        {
            yield return $"Relay:MaxReplayAttempts must be at least 1 (got {MaxReplayAttempts}).";
        }

        if (!RoutesByPath && Appliances.Where(a => (a.Value.Hosts ?? []).Length == 0).Select(a => a.Key).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } hostless)
        {
            yield return $"Relay:Appliances:{hostless[0]}:Hosts is not set, and {Appliances.Count} appliances under /NAME/ paths of one host would share one "
                + "origin (a page of one could act with a login on another): give each appliance its own host name in Relay:Appliances:NAME:Hosts "
                + "(without host: " + string.Join(", ", hostless) + "), or accept the risk with Relay:AllowSharedOriginPaths=true.";
        }

        if (MaxStreamsPerClient < 1 || MaxStreamsPerLink < 1 || MaxStreams < 1 || MaxConnections < 1)
        {
            yield return "Relay:MaxStreamsPerClient, Relay:MaxStreamsPerLink, Relay:MaxStreams and Relay:MaxConnections must be at least 1.";
        }

        if (MaxStoredCallbacks < 1)
        {
            yield return $"Relay:MaxStoredCallbacks must be at least 1 (got {MaxStoredCallbacks}).";
        }
    }
}

/// <summary>One appliance the relay knows.</summary>
public sealed class ApplianceEntry
{
    /// <summary>Shared secret, the same as the appliance's <c>Tunnel:Secret</c>.</summary>
    public string Secret { get; set; } = "";

    /// <summary>Host names that go to this appliance as a whole (no <c>/NAME</c> prefix), e.g. <c>cam.example.com</c>.</summary>
    public string[]? Hosts { get; set; }

    /// <summary>The WeCom callback Token (not the AES key); enables the signature check and store-and-forward.</summary>
    public string WeComToken { get; set; } = "";
}

/// <summary>PEM files for HTTPS served by the relay itself (e.g. Let's Encrypt's fullchain.pem and privkey.pem).</summary>
public sealed class TlsOptions
{
    public string CertificatePath { get; set; } = "";

    public string KeyPath { get; set; } = "";
}
