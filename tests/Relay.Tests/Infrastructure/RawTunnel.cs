using System.Net.WebSockets;
using TunnelProtocol;

namespace Relay.Tests.Infrastructure;

/// <summary>A tunnel login made by hand (no appliance behind it), for tests of the relay's session handling.</summary>
internal static class RawTunnel
{
    /// <summary>Logs in as <see cref="RelayServer.Name"/> with the right secret at <paramref name="uri"/>; the relay accepted it.</summary>
    public static async Task<ClientWebSocket> LoginAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(uri, CancellationToken.None);
        var nonce = TunnelHandshake.ParseChallenge((await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None))!)!;
        var proof = TunnelHandshake.Proof(RelayServer.Secret, TunnelHandshake.ConnectPurpose, RelayServer.Name, nonce);
        await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer(RelayServer.Name, proof), CancellationToken.None);
        Assert.Equal(TunnelHandshake.Accepted, await TunnelHandshake.ReceiveTextAsync(socket, CancellationToken.None));
        return socket;
    }
}
