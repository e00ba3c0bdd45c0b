using System.Net.WebSockets;
using Appliance.Tunnel;
using TunnelProtocol;

namespace Appliance.Settings;

/// <summary>
/// The settings page's tunnel part: the relay's URL, this appliance's name there and the shared secret (stored in the
/// browser's layer, in effect at the next start), and <b>Test</b>: with the form's values (a blank Secret: the one
/// saved or in effect), connect to the relay and log in as the running tunnel does, then close.
/// </summary>
internal static class TunnelSettings
{
    internal static TunnelOptions Read(IFormCollection form, TunnelOptions current, Func<string, string?> saved)
    {
        var secret = form["secret"].ToString().Trim();
        return new TunnelOptions
        {
            RelayUrl = form["relayUrl"].ToString().Trim(),
            Name = form["name"].ToString().Trim(),
            Secret = secret.Length > 0 ? secret : saved("Tunnel:Secret") is { Length: > 0 } kept ? kept : current.Secret,
            ConnectTimeout = current.ConnectTimeout,
            PingInterval = current.PingInterval,
            PingTimeout = current.PingTimeout,
        };
    }

    /// <summary>Connects and logs in once: what happened, in words for the page.</summary>
    internal static async Task<(bool Ok, string Text)> TestAsync(TunnelOptions chosen, CancellationToken cancellationToken)
    {
        using var dialer = new TunnelDialer(chosen);
        try
        {
            var (socket, _) = await dialer.OpenAsync(TunnelHandshake.ConnectPath, TunnelHandshake.ConnectPurpose, cancellationToken);
            using (socket)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "settings page test", cancellationToken);
            }

            return (true, $"Connected to {chosen.RelayUrl} and logged in as '{chosen.Name}'.");
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException or InvalidOperationException or IOException
            or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (false, $"The tunnel test failed: {TunnelClient.Describe(ex)}");
        }
        catch (OperationCanceledException)
        {
            return (false, $"The tunnel test failed: no answer from {chosen.RelayUrl} within 20 s.");
        }
    }
}
