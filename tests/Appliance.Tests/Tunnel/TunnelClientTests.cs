using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading.Channels;
using Appliance.Tests.Infrastructure;
using Appliance.Tunnel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelProtocol;

namespace Appliance.Tests.Tunnel;

/// <summary>The reconnect loop, its backoff and its watchdog health, on a hand-moved clock against relays that refuse or hold it.</summary>
public sealed class TunnelClientTests
{
    [Fact]
    public async Task Reconnect_RelayRefusesConnections_KeepsTryingForeverAndStaysHealthy()
    {
        var port = ClosedLoopbackPort();
        var time = new TimerCountingTimeProvider();
        using var client = NewClient($"ws://127.0.0.1:{port}/", time, TimeSpan.FromSeconds(10));
        await client.StartAsync(CancellationToken.None);
        try
        {
            // Far past the cap (30 s after the 7th failure) and past the watchdog's allowance: the loop never gives
            // up, every failure leaves it waiting on the clock, and it counts as healthy all along.
            for (var attempt = 1; attempt <= 40; attempt++)
            {
                await WaitForAsync(() => client.State == TunnelState.Reconnecting && time.PendingTimers == 1, $"attempt {attempt} to fail and wait");
                Assert.Contains("refused", client.LastError ?? "", StringComparison.OrdinalIgnoreCase);
                Assert.True(client.IsHealthy, $"unhealthy while waiting after attempt {attempt}");
                time.Advance(ReconnectBackoff.Cap);
            }

            Assert.Equal(0, client.Sessions);
        }
        finally
        {
            await client.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task IsHealthy_AttemptThatNeverEnds_TurnsFalseOnlyPastTheAllowance()
    {
        // A relay that accepts TCP and never answers the upgrade; the attempt's own timeout is far away.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var time = new TimerCountingTimeProvider();
        var connectTimeout = TimeSpan.FromMinutes(10);
        using var client = NewClient($"ws://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/", time, connectTimeout);
        await client.StartAsync(CancellationToken.None);
        try
        {
            using var accepted = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(TunnelState.Connecting, client.State);

            var allowance = ReconnectBackoff.Cap + connectTimeout + TimeSpan.FromSeconds(30);
            time.Advance(allowance - TimeSpan.FromSeconds(1));
            Assert.True(client.IsHealthy);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(client.IsHealthy);
        }
        finally
        {
            await client.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Full-jitter backoff seen from the client's clock: every failure doubles the ceiling of the next wait (0.5 s, 1 s,
    /// … up to 30 s); a session that ends before a stable minute keeps the raised ceiling, one that lasted a minute
    /// starts over at 0.5 s. The jitter is fixed at 99 % of the ceiling, so each wait is known.
    /// </summary>
    [Fact]
    public async Task Reconnect_StableMinuteResetsTheBackoff_AShorterSessionDoesNot()
    {
        await using var relay = await FakeRelay.StartAsync();
        var time = new TimerCountingTimeProvider();
        var transport = new TunnelConnectionListenerFactory();
        await using var kestrel = new TunnelConsumer(transport);
        using var client = NewClient(relay.Url.ToString(), time, TimeSpan.FromSeconds(10), transport, new FixedJitter(0.99));
        await client.StartAsync(CancellationToken.None);
        try
        {
            // Five refused attempts: the waits after them grow 0.5 s → 8 s.
            for (var failures = 1; failures <= 5; failures++)
            {
                await WaitForAsync(() => relay.Attempts == failures && IsWaiting(client, time), $"attempt {failures} to fail and wait");
                if (failures == 5)
                {
                    relay.Accepting = true;
                }

                await AssertNextAttemptAfterAsync(relay, time, Ceiling(failures - 1));
            }

            // Connected after five failures; the session ends after 59 s: not stable, the next wait is 16 s.
            await WaitForAsync(() => client.State == TunnelState.Connected && relay.Sessions == 1, "the first session");
            time.Advance(ReconnectBackoff.StableAfter - TimeSpan.FromSeconds(1));
            relay.DropSession();
            await WaitForAsync(() => IsWaiting(client, time), "the first session to end and the client to wait");
            await AssertNextAttemptAfterAsync(relay, time, Ceiling(5));

            // The next session lasts a minute: the one after it is back at 0.5 s.
            await WaitForAsync(() => client.State == TunnelState.Connected && relay.Sessions == 2, "the second session");
            time.Advance(ReconnectBackoff.StableAfter);
            relay.DropSession();
            await WaitForAsync(() => IsWaiting(client, time), "the second session to end and the client to wait");
            await AssertNextAttemptAfterAsync(relay, time, ReconnectBackoff.Base);
            await WaitForAsync(() => client.State == TunnelState.Connected && relay.Sessions == 3, "the third session");
            Assert.Equal(3, client.Sessions);
        }
        finally
        {
            await client.StopAsync(CancellationToken.None);
        }

        static TimeSpan Ceiling(int failures) => ReconnectBackoff.Base * Math.Pow(2, failures);
    }

    [Fact]
    public async Task Timeline_RelayRefusesThenAcceptsThenDrops_TunnelDownUntilConnectedThenDownAgain()
    {
        await using var relay = await FakeRelay.StartAsync();
        var time = new TimerCountingTimeProvider();
        var dir = Directory.CreateTempSubdirectory("tunnel-timeline-").FullName;
        try
        {
            using var store = new Appliance.Events.EventStore(Path.Combine(dir, "events.db"));
            var recorder = new Appliance.Events.IndexEventRecorder(store, NullLogger<Appliance.Events.IndexEventRecorder>.Instance);
            var transport = new TunnelConnectionListenerFactory();
            await using var kestrel = new TunnelConsumer(transport);
            using var client = NewClient(relay.Url.ToString(), time, TimeSpan.FromSeconds(10), transport, new FixedJitter(0.99), recorder);
            await client.StartAsync(CancellationToken.None);
            try
            {
                // Two refused attempts: one outage, open.
                await WaitForAsync(() => relay.Attempts == 1 && IsWaiting(client, time), "the first attempt to fail");
                var down = time.GetUtcNow();
                time.Advance(ReconnectBackoff.Base);
                await WaitForAsync(() => relay.Attempts == 2 && IsWaiting(client, time), "the second attempt to fail");
                await client.TimelineWritten;
                var open = Assert.Single(store.List(null, 10, "tunnel"));
                Assert.Equal((down, (DateTimeOffset?)null, "127.0.0.1"), (open.Start, open.End, open.Source));

                // Connected: the outage ends.
                relay.Accepting = true;
                time.Advance(ReconnectBackoff.Base * 2);
                await WaitForAsync(() => client.State == TunnelState.Connected, "the session");
                await client.TimelineWritten;
                var up = time.GetUtcNow();
                Assert.Equal(up, Assert.Single(store.List(null, 10, "tunnel")).End);

                // The session drops: a new outage.
                time.Advance(TimeSpan.FromSeconds(5));
                relay.DropSession();
                await WaitForAsync(() => IsWaiting(client, time), "the session to end");
                await client.TimelineWritten;
                var outages = store.List(null, 10, "tunnel");
                Assert.Equal(2, outages.Count);
                Assert.Equal((up.AddSeconds(5), (DateTimeOffset?)null), (outages[0].Start, outages[0].End));
            }
            finally
            {
                await client.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Waiting out a backoff: the wait is the only timer on the clock, so moving the clock now moves it.</summary>
    private static bool IsWaiting(TunnelClient client, TimerCountingTimeProvider time) => client.State == TunnelState.Reconnecting && time.PendingTimers == 1;

    /// <summary>The client waits 99 % of <paramref name="ceiling"/> (the fixed jitter): no attempt at 98 %, one at 100 %.</summary>
    private static async Task AssertNextAttemptAfterAsync(FakeRelay relay, TimerCountingTimeProvider time, TimeSpan ceiling)
    {
        var attempts = relay.Attempts;
        time.Advance(ceiling * 0.98);
        await Task.Delay(200);
        Assert.True(relay.Attempts == attempts, $"the client tried again before 98 % of {ceiling.TotalSeconds} s");
        time.Advance(ceiling * 0.02);
        await WaitForAsync(() => relay.Attempts == attempts + 1, $"the attempt after a wait of {ceiling.TotalSeconds} s");
    }

    private static TunnelClient NewClient(
        string relayUrl, TimeProvider time, TimeSpan connectTimeout, TunnelConnectionListenerFactory? transport = null, Random? jitter = null,
        Appliance.Events.IEventRecorder? timeline = null)
    {
        var options = new TunnelOptions { RelayUrl = relayUrl, Name = "cam", Secret = FakeRelay.Secret, ConnectTimeout = connectTimeout };
        return new TunnelClient(options, new TunnelDialer(options), transport ?? new TunnelConnectionListenerFactory(), time, NullLogger<TunnelClient>.Instance, timeline)
        {
            Jitter = jitter ?? Random.Shared,
        };
    }

    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    /// <summary>A jitter source that always draws the same share of the ceiling.</summary>
    private sealed class FixedJitter(double share) : Random
    {
        public override double NextDouble() => share;

        protected override double Sample() => share;
    }

    /// <summary>
    /// A relay's tunnel endpoint on 127.0.0.1: refuses the upgrade (503) until <see cref="Accepting"/>, then logs the
    /// appliance in and holds each session (answering its pings) until <see cref="DropSession"/> cuts it off.
    /// </summary>
    private sealed class FakeRelay : IAsyncDisposable
    {
        public const string Secret = "0123456789abcdef-test-secret";

        private readonly WebApplication _app;
        private readonly Channel<bool> _drops = Channel.CreateUnbounded<bool>();
        private int _attempts;
        private int _sessions;
        private volatile bool _accepting;

        private FakeRelay(WebApplication app)
        {
            _app = app;
            app.UseWebSockets();
            app.Map("/" + TunnelHandshake.ConnectPath, ConnectAsync);
        }

        public Uri Url { get; private set; } = null!;

        public int Attempts => Volatile.Read(ref _attempts);

        /// <summary>Sessions that were accepted (the appliance read "ok").</summary>
        public int Sessions => Volatile.Read(ref _sessions);

        /// <summary>Whether logins are taken (else the upgrade is refused).</summary>
        public bool Accepting
        {
            get => _accepting;
            set => _accepting = value;
        }

        public static async Task<FakeRelay> StartAsync()
        {
            var relay = new FakeRelay(LoopbackApp.Create());
            var address = await LoopbackApp.StartAsync(relay._app);
            relay.Url = new Uri($"ws://{address.Authority}/");
            return relay;
        }

        /// <summary>Cuts the current session off without a close handshake, like a link that failed.</summary>
        public void DropSession() => _drops.Writer.TryWrite(true);

        public ValueTask DisposeAsync() => LoopbackApp.StopAsync(_app);

        private async Task ConnectAsync(HttpContext context)
        {
            Interlocked.Increment(ref _attempts);
            if (!Accepting || !context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var nonce = TunnelHandshake.NewNonce();
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Challenge(nonce), context.RequestAborted);
            var answer = await TunnelHandshake.ReceiveTextAsync(socket, context.RequestAborted);
            Assert.Equal(TunnelHandshake.Answer("cam", TunnelHandshake.Proof(Secret, TunnelHandshake.ConnectPurpose, "cam", nonce)), answer);
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Accepted, context.RequestAborted);
            Interlocked.Increment(ref _sessions);

            // Keep receiving (so the appliance's pings are answered) until the test drops the session.
            var reading = DiscardAsync(socket, context.RequestAborted);
            await Task.WhenAny(reading, _drops.Reader.ReadAsync(context.RequestAborted).AsTask());
            context.Abort();
        }

        private static async Task DiscardAsync(WebSocket socket, CancellationToken cancellationToken)
        {
            var buffer = new byte[16384];
            try
            {
                while (!(await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken)).MessageType.Equals(WebSocketMessageType.Close))
                {
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Kestrel's part for the tunnel transport: takes each session and reads it until it ends, then closes it.</summary>
    private sealed class TunnelConsumer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public TunnelConsumer(TunnelConnectionListenerFactory transport) => _accepting = AcceptAsync(transport);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _accepting;
            _stop.Dispose();
        }

        private async Task AcceptAsync(TunnelConnectionListenerFactory transport)
        {
            await using var listener = await transport.BindAsync(new TunnelEndPoint("relay"), _stop.Token);
            var reading = new List<Task>();
            while (await listener.AcceptAsync(_stop.Token) is { } connection)
            {
                reading.Add(ReadAsync(connection));
            }

            await Task.WhenAll(reading);
        }

        private static async Task ReadAsync(ConnectionContext connection)
        {
            await using (connection)
            {
                try
                {
                    // Nothing comes from a relay that speaks no HTTP/2; reading lets a failed link show.
                    var input = connection.Transport.Input;
                    while (true)
                    {
                        var result = await input.ReadAsync();
                        input.AdvanceTo(result.Buffer.End);
                        if (result.IsCompleted)
                        {
                            break;
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or WebSocketException or OperationCanceledException)
                {
                }
            }
        }
    }
}
