using System.Net.WebSockets;
using TunnelProtocol;

namespace Appliance.Tunnel;

/// <summary>
/// Outbound API calls that must leave from the relay's fixed address (WeCom's trusted-IP rule). Each connection is
/// a CONNECT-style WebSocket to the relay, which opens TCP to the host (only hosts on <c>Relay:EgressAllowList</c>);
/// TLS runs end to end inside it, so the relay never sees tokens. Plug <see cref="CreateHandler"/> into the API client.
/// </summary>
public sealed class TunnelEgress(TunnelDialer dialer)
{
    /// <summary>Whether calls go through the relay (a tunnel is configured); otherwise use a plain handler.</summary>
    public bool Enabled => dialer.Options.Enabled;

    /// <summary>A handler whose every connection goes through the relay; pooled connections are reused as usual.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
            await OpenAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
    };

    /// <summary>A raw byte stream to <paramref name="host"/>:<paramref name="port"/> leaving from the relay.</summary>
    public async Task<Stream> OpenAsync(string host, int port, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(dialer.Options.ConnectTimeout);
        var path = FormattableString.Invariant($"{TunnelHandshake.EgressPath}?host={Uri.EscapeDataString(host)}&port={port}");
        var (socket, _) = await dialer.OpenAsync(path, TunnelHandshake.EgressPurpose(host, port), timeout.Token);
        return WebSocketStream.Create(socket, WebSocketMessageType.Binary, TunnelHandshake.CloseTimeout);
    }
}
