extern alias ApplianceApp;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Relay.Tests.Infrastructure;
using TunnelState = ApplianceApp::Appliance.Tunnel.TunnelState;

namespace Relay.Tests.Tunnel;

/// <summary>
/// <c>Tunnel:ConnectTimeout</c> against a "relay" that goes silent: one that accepts TCP and never answers the upgrade,
/// and one that completes the WebSocket upgrade and never sends its challenge. The appliance must give up on each attempt
/// after the timeout, say so, and try again.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class TunnelConnectTimeoutTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConnectTimeout_SilentRelay_AttemptAbandonedAfterTimeoutAndRetried(bool upgradeFirst)
    {
        await using var relay = new SilentRelay(upgradeFirst);
        await using var appliance = await TunnelledAppliance.StartAsync(relay.Url, settings: "--Tunnel:ConnectTimeout=00:00:01");

        // First attempt at once; the second only after the first timed out (1 s) plus the first backoff (≤ 0.5 s).
        var deadline = Stopwatch.StartNew();
        while (relay.Accepted.Count < 2 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        var accepted = relay.Accepted.ToArray();
        Assert.True(accepted.Length >= 2, $"only {accepted.Length} attempt(s) in 10 s: the first one was never abandoned");
        var gap = accepted[1] - accepted[0];
        Assert.InRange(gap, TimeSpan.FromSeconds(0.95), TimeSpan.FromSeconds(3.5));
        Assert.NotEqual(TunnelState.Connected, appliance.Tunnel.State);
        Assert.Contains("Tunnel:ConnectTimeout (1 s)", appliance.Tunnel.LastError, StringComparison.Ordinal);
    }

    /// <summary>Accepts connections on 127.0.0.1 and keeps them open without a word (after a 101 upgrade if asked).</summary>
    private sealed class SilentRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentBag<TcpClient> _held = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Task _loop;

        public SilentRelay(bool upgradeFirst)
        {
            _listener.Start();
            _loop = AcceptAsync(upgradeFirst);
        }

        public Uri Url => new($"ws://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

        public ConcurrentQueue<TimeSpan> Accepted { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            foreach (var client in _held)
            {
                client.Dispose();
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync(bool upgradeFirst)
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Accepted.Enqueue(_clock.Elapsed);
                    _held.Add(client);
                    if (upgradeFirst)
                    {
                        _ = UpgradeAsync(client.GetStream(), _stop.Token);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private static async Task UpgradeAsync(NetworkStream stream, CancellationToken cancellationToken)
        {
            try
            {
                var request = new StringBuilder();
                var buffer = new byte[4096];
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var n = await stream.ReadAsync(buffer, cancellationToken);
                    if (n == 0)
                    {
                        return;
                    }

                    request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                var key = request.ToString().Split("\r\n")
                    .First(line => line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))["Sec-WebSocket-Key:".Length..].Trim();
#pragma warning disable CA5350 // RFC 6455 defines the accept value with SHA-1
                var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
                var response = $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response), cancellationToken);

                // Then silence: no challenge. Keep reading so the appliance's pings are taken in, never answered.
                while (await stream.ReadAsync(buffer, cancellationToken) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }
    }
}
