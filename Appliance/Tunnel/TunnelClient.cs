using System.Net.Sockets;
using System.Net.WebSockets;
using TunnelProtocol;

namespace Appliance.Tunnel;

public enum TunnelState
{
    /// <summary>No Tunnel:RelayUrl configured.</summary>
    Disabled = 0,
    Connecting = 1,
    Connected = 2,
    /// <summary>Waiting out the backoff before the next attempt.</summary>
    Reconnecting = 3,
}

/// <summary>
/// The tunnel's health for the systemd watchdog: healthy while connected or while the reconnect loop is making
/// attempts (a relay that is down is not the appliance's fault); unhealthy only when the loop itself is stuck.
/// </summary>
public interface ITunnelHealth
{
    TunnelState State { get; }

    bool IsHealthy { get; }
}

/// <summary>
/// Keeps one authenticated tunnel session to the relay, forever: connect, prove the secret, hand the stream to
/// Kestrel, and when it ends wait a full-jitter backoff and start over.
/// </summary>
public sealed partial class TunnelClient(
    TunnelOptions options, TunnelDialer dialer, TunnelConnectionListenerFactory transport, TimeProvider time, ILogger<TunnelClient> logger,
    Appliance.Events.IEventRecorder? timeline = null)
    : BackgroundService, ITunnelHealth
{
    // Tunnel down / up on the timeline: down from a lost session or a failed attempt, up at the next connection.
    private readonly Appliance.Events.OutageTracker? _outage = timeline is null ? null : new(timeline, "tunnel");

    private const int TcpUserTimeoutOption = 18; // TCP_USER_TIMEOUT: unacknowledged data fails the socket.

    private long _progressAt = time.GetTimestamp();
    private CountingStream? _current;
    private long _bytesSentBefore;
    private long _bytesReceivedBefore;

    public TunnelState State { get; private set; } = options.Enabled ? TunnelState.Connecting : TunnelState.Disabled;

    /// <summary>Where the backoff's jitter comes from (a test fixes it, so each wait is a known share of its ceiling).</summary>
    internal Random Jitter { get; init; } = Random.Shared;

    public DateTimeOffset? ConnectedSince { get; private set; }

    public int Sessions { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>Bytes the appliance sent to the relay over all sessions (its uplink share of the tunnel).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSentBefore) + (_current?.BytesWritten ?? 0);

    public long BytesReceived => Interlocked.Read(ref _bytesReceivedBefore) + (_current?.BytesRead ?? 0);

    /// <summary>Completes when the tunnel's down/up events reported so far are written (tests).</summary>
    internal Task TimelineWritten => _outage?.Written ?? Task.CompletedTask;

    public bool IsHealthy
    {
        get
        {
            if (State is TunnelState.Disabled or TunnelState.Connected)
            {
                return true;
            }

            // Reconnecting: the loop must have made progress within the longest wait plus one attempt.
            var allowed = ReconnectBackoff.Cap + options.ConnectTimeout + TimeSpan.FromSeconds(30);
            return time.GetElapsedTime(Interlocked.Read(ref _progressAt)) < allowed;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        var backoff = new ReconnectBackoff(Jitter);
        while (!stoppingToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _progressAt, time.GetTimestamp());
            State = TunnelState.Connecting;
            var connectedAt = 0L;
            try
            {
                var (stream, info, socket) = await ConnectAsync(stoppingToken);
                connectedAt = time.GetTimestamp();
                ConnectedSince = time.GetUtcNow();
                State = TunnelState.Connected;
                _outage?.Up(time.GetUtcNow());
                Sessions++;
                LastError = null;
                _current = stream;
                LogConnected(logger, options.BaseUri, options.Name);
                try
                {
                    await ServeUntilDeadAsync(stream, info, socket, stoppingToken);
                }
                finally
                {
                    Interlocked.Add(ref _bytesSentBefore, stream.BytesWritten);
                    Interlocked.Add(ref _bytesReceivedBefore, stream.BytesRead);
                    _current = null;
                    ConnectedSince = null;
                }

                LogSessionEnded(logger, time.GetElapsedTime(connectedAt).TotalSeconds);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LastError = Describe(ex);
                LogAttemptFailed(logger, options.BaseUri, LastError);
            }

            if (connectedAt != 0)
            {
                backoff.SessionEnded(time.GetElapsedTime(connectedAt));
            }

            if (!stoppingToken.IsCancellationRequested)
            {
                _outage?.Down(time.GetUtcNow(), options.BaseUri.Host);
            }

            var delay = backoff.NextDelay();
            State = TunnelState.Reconnecting;
            Interlocked.Exchange(ref _progressAt, time.GetTimestamp());
            try
            {
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Serves the session until Kestrel ends it or the WebSocket dies (its keepalive aborts it when pongs stop);
    /// the second check ends a session whose HTTP/2 teardown would otherwise wait on the dead link.
    /// </summary>
    private async Task ServeUntilDeadAsync(CountingStream stream, TunnelConnectionInfo info, WebSocket socket, CancellationToken stoppingToken)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var serving = transport.ServeAsync(stream, info, socket.Abort, session.Token);
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        while (!serving.IsCompleted)
        {
            await Task.WhenAny(serving, Task.Delay(TimeSpan.FromMilliseconds(500), time, polling.Token));
            if (socket.State != WebSocketState.Open)
            {
                await session.CancelAsync();
            }
        }

        // The last check's timer goes with the session (the backoff's wait is then the only one on the clock).
        await polling.CancelAsync();
        await serving;
    }

    private async Task<(CountingStream Stream, TunnelConnectionInfo Info, WebSocket Socket)> ConnectAsync(CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(options.ConnectTimeout);
        ClientWebSocket socket;
        byte[] nonce;
        try
        {
            (socket, nonce) = await dialer.OpenAsync(TunnelHandshake.ConnectPath, TunnelHandshake.ConnectPurpose, timeout.Token);
        }
        catch (Exception ex) when ((ex is OperationCanceledException or WebSocketException) && timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            // "The operation was canceled" would not tell the user which limit struck or that the relay went silent.
            throw new TimeoutException(
                $"No answer from the relay within Tunnel:ConnectTimeout ({options.ConnectTimeout.TotalSeconds:0.###} s) while connecting and logging in.", ex);
        }

        var info = new TunnelConnectionInfo(TunnelHandshake.RelayKey(options.Secret, nonce), time.GetUtcNow());
        return (new CountingStream(WebSocketStream.Create(socket, WebSocketMessageType.Binary, TunnelHandshake.CloseTimeout)), info, socket);
    }

    /// <summary>
    /// The messages of the exception and its causes: "Unable to connect to the remote server" alone would hide
    /// whether the relay refused, was unreachable or had a bad certificate.
    /// </summary>
    internal static string Describe(Exception exception)
    {
        var messages = new List<string>();
        for (var ex = exception; ex is not null && messages.Count < 4; ex = ex.InnerException)
        {
            var message = ex.Message.TrimEnd('.');
            if (message.Length > 0 && !messages.Any(m => m.Contains(message, StringComparison.Ordinal)))
            {
                messages.Add(message);
            }
        }

        return string.Join(": ", messages) + ".";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tunnel to {Relay} is up as {Name}")]
    private static partial void LogConnected(ILogger logger, Uri relay, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tunnel session ended after {Seconds:0.0} s; reconnecting")]
    private static partial void LogSessionEnded(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tunnel to {Relay} failed: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, Uri relay, string reason);

    internal static int TcpUserTimeout => TcpUserTimeoutOption;
}

/// <summary>Opening and authenticating WebSockets to the relay (the main tunnel and egress streams).</summary>
public sealed class TunnelDialer(TunnelOptions options) : IDisposable
{
    private readonly HttpMessageInvoker _invoker = Invoker(options);

    public TunnelOptions Options => options;

    public void Dispose() => _invoker.Dispose();

    /// <summary>Opens an authenticated WebSocket to <paramref name="path"/> for <paramref name="purpose"/>; returns it with the nonce.</summary>
    internal async Task<(ClientWebSocket Socket, byte[] Nonce)> OpenAsync(string path, string purpose, CancellationToken cancellationToken)
    {
        var socket = await ConnectAsync(new Uri(options.BaseUri, path), cancellationToken);
        try
        {
            return (socket, await AuthenticateAsync(socket, purpose, cancellationToken));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<ClientWebSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = options.PingInterval;
        socket.Options.KeepAliveTimeout = options.PingTimeout;
        try
        {
            await socket.ConnectAsync(uri, _invoker, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Answers the relay's challenge; returns the nonce (the session's key material) once accepted.</summary>
    private async Task<byte[]> AuthenticateAsync(WebSocket socket, string purpose, CancellationToken cancellationToken)
    {
        var challenge = await TunnelHandshake.ReceiveTextAsync(socket, cancellationToken);
        var nonce = (challenge is null ? null : TunnelHandshake.ParseChallenge(challenge))
            ?? throw new InvalidOperationException("The relay sent no valid challenge.");

        var proof = TunnelHandshake.Proof(options.Secret, purpose, options.Name, nonce);
        await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Answer(options.Name, proof), cancellationToken);
        var verdict = await TunnelHandshake.ReceiveTextAsync(socket, cancellationToken);
        if (verdict != TunnelHandshake.Accepted)
        {
            throw new InvalidOperationException(RefusalMessage(purpose, socket.CloseStatusDescription));
        }

        return nonce;
    }

    /// <summary>What the relay's close reason means for the user: which setting, on which side, to look at.</summary>
    internal string RefusalMessage(string purpose, string? reason)
    {
        var what = purpose == TunnelHandshake.ConnectPurpose ? "the tunnel" : "egress to " + purpose[(purpose.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        return reason switch
        {
            TunnelHandshake.AuthenticationFailed =>
                $"The relay refused the login of '{options.Name}' (authentication failed); check Tunnel:Name and Tunnel:Secret here and Relay:Appliances:{options.Name}:Secret on the relay.",
            TunnelHandshake.EgressNotAllowed =>
                $"The relay refused {what}: the host is not on the relay's Relay:EgressAllowList.",
            TunnelHandshake.EgressUnreachable => $"The relay cannot open {what}: it cannot reach the host.",
            null or "" => $"The relay closed the connection for {what} during the login, giving no reason.",
            _ => $"The relay refused {what}: {reason}.",
        };
    }

    // The handler's only job is the upgrade request; TCP_USER_TIMEOUT makes unacknowledged data fail the socket even
    // when no ping is due.
    private static HttpMessageInvoker Invoker(TunnelOptions options) => new(new SocketsHttpHandler
    {
        ConnectTimeout = options.ConnectTimeout,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.SetRawSocketOption(
                    (int)SocketOptionLevel.Tcp, TunnelClient.TcpUserTimeout,
                    BitConverter.GetBytes((int)(options.PingInterval + options.PingTimeout).TotalMilliseconds));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });
}
