using System.Net;

namespace Appliance.Tunnel;

/// <summary>The <c>Tunnel</c> section: the outbound connection to the relay on a VPS. Empty <see cref="RelayUrl"/> = no tunnel.</summary>
public sealed class TunnelOptions
{
    public const string SectionName = "Tunnel";

    /// <summary>The relay's base URL, e.g. <c>wss://relay.example.com/</c>; <c>ws://</c> only to a loopback address (tests).</summary>
    public string RelayUrl { get; set; } = "";

    /// <summary>This appliance's name at the relay (<c>Relay:Appliances:NAME</c>); visitors use <c>https://RELAY/NAME/</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary>The shared secret, the same as <c>Relay:Appliances:NAME:Secret</c> (at least 16 characters).</summary>
    public string Secret { get; set; } = "";

    /// <summary>HTTP/2 and WebSocket ping interval; a link that misses pings for <see cref="PingTimeout"/> more is dead.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an unanswered ping may stay unanswered before the link counts as dead.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>Limit for connecting and authenticating one attempt.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public bool Enabled => RelayUrl.Length > 0;

    public Uri BaseUri => new(RelayUrl.EndsWith('/') ? RelayUrl : RelayUrl + "/");

    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            yield break;
        }

        if (!Uri.TryCreate(RelayUrl, UriKind.Absolute, out var uri) || (uri.Scheme != "wss" && uri.Scheme != "ws"))
        {
            yield return $"Tunnel:RelayUrl must be a wss:// URL (got '{RelayUrl}').";
        }
        else if (uri.Scheme == "ws" && !IsLoopback(uri))
        {
            yield return $"Tunnel:RelayUrl must use wss:// for a non-loopback relay (got '{RelayUrl}'); ws:// is for tests on this machine.";
        }

        if (!TunnelProtocol.TunnelHandshake.IsValidName(Name))
        {
            yield return $"Tunnel:Name must be 1-63 lowercase letters, digits or '-' (got '{Name}').";
        }

        if (Secret.Length < 16)
        {
            yield return "Tunnel:Secret must be at least 16 characters (the same as Relay:Appliances:NAME:Secret on the relay).";
        }

        if (PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero || PingInterval + PingTimeout > TimeSpan.FromSeconds(20))
        {
            yield return $"Tunnel:PingInterval and Tunnel:PingTimeout must be positive and add up to at most 20 s (got {PingInterval} + {PingTimeout}).";
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            yield return $"Tunnel:ConnectTimeout must be positive (got {ConnectTimeout}).";
        }
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
