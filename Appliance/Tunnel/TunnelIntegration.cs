using Appliance.Hosting.Systemd;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;

namespace Appliance.Tunnel;

/// <summary>WeCom API calls leave through the relay, from the VPS's fixed address (WeCom's trusted-IP rule, 60020).</summary>
internal sealed class TunnelWeComEgress(TunnelEgress egress) : IWeComEgress
{
    public string Name => "relay tunnel";

    public HttpMessageHandler CreatePrimaryHandler() => egress.CreateHandler();
}

/// <summary>
/// The appliance's public address is the relay's, under its name: wss://relay.example.com/ and name "home" give
/// https://relay.example.com/home. <c>WeCom:PublicBaseUrl</c> still wins (e.g. when the relay routes by host name).
/// </summary>
internal sealed class TunnelPublicBaseUrl(TunnelOptions options) : IPublicBaseUrl
{
    public string? PublicBaseUrl
    {
        get
        {
            var relay = new UriBuilder(options.BaseUri)
            {
                Scheme = options.BaseUri.Scheme == "wss" ? "https" : "http",
                Port = options.BaseUri.IsDefaultPort ? -1 : options.BaseUri.Port,
            };
            relay.Path = relay.Path.TrimEnd('/') + "/" + Uri.EscapeDataString(options.Name);
            return relay.Uri.AbsoluteUri.TrimEnd('/');
        }
    }
}

/// <summary>The systemd watchdog is fed only while the tunnel is healthy or its reconnect loop is making attempts.</summary>
internal sealed class TunnelWatchdogHealth(ITunnelHealth tunnel) : IWatchdogHealth
{
    public string? Problem() => tunnel.IsHealthy ? null : $"tunnel {tunnel.State}: the reconnect loop is stuck";
}
