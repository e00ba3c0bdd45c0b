using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Relay.Hosting;
using TunnelProtocol;

namespace Relay.Tunnel;

/// <summary>
/// Accepts appliances at <c>/_tunnel/connect</c> and egress streams at <c>/_tunnel/egress</c>. Anything that is not
/// a WebSocket gets the same 404 as an unknown path; a failed login is closed with the same words whether the name
/// exists or not, after the same HMAC work, so a probe learns nothing.
/// </summary>
internal sealed partial class TunnelAcceptor(
    RelayOptions options, TunnelRegistry registry, AuthFailureLimiter limiter, ClientAddress addresses, IHostApplicationLifetime lifetime,
    TimeProvider time, ILogger<TunnelAcceptor> logger)
{
    /// <summary>How long a client has from the WebSocket upgrade to a complete login before it is cut off.</summary>
    internal static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly string DecoySecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    // One line a minute at most for what strangers can repeat at will (abandoned handshakes, wrong answers).
    private readonly Appliance.Auth.LogThrottle _abandonedLog = new(time, TimeSpan.FromMinutes(1));
    private readonly Appliance.Auth.LogThrottle _refusedLog = new(time, TimeSpan.FromMinutes(1));
    private readonly Appliance.Auth.LogThrottle _blockedLog = new(time, TimeSpan.FromMinutes(1));

    public async Task AcceptAsync(HttpContext context, bool egress)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var remote = addresses.Of(context);
        string? host = null;
        var port = 443;
        if (egress)
        {
            host = context.Request.Query["host"].ToString();
            var portText = context.Request.Query["port"].ToString();
            if (host.Length == 0 || (portText.Length > 0 && !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port)) || port is < 1 or > 65535)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = options.PingInterval,
            KeepAliveTimeout = options.PingTimeout,
        });
        using var handshakeDeadline = new CancellationTokenSource(HandshakeTimeout, time);
        using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, handshakeDeadline.Token);
        byte[] nonce;
        string name;
        try
        {
            nonce = TunnelHandshake.NewNonce();
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Challenge(nonce), handshakeTimeout.Token);
            var answer = await TunnelHandshake.ReceiveTextAsync(socket, handshakeTimeout.Token);
            if (answer is null || !TunnelHandshake.TryParseAnswer(answer, out name, out var proof))
            {
                await RefuseAsync(socket, remote, "(malformed)", blockedNow: false, logged: true);
                return;
            }

            // A correct answer is always accepted, even from an address that is refused for wrong ones: the secret
            // cannot be guessed (HMAC-SHA256 with at least 16 characters), so the limit only throttles the cost of
            // wrong answers, and someone sharing the appliance's address (carrier-grade NAT, a guest device) cannot
            // lock it out. Unknown names are checked against a decoy secret, the same work as a known one.
            var known = options.Appliances.TryGetValue(name, out var entry);
            var purpose = egress ? TunnelHandshake.EgressPurpose(host!, port) : TunnelHandshake.ConnectPurpose;
            var expected = TunnelHandshake.Proof(known ? entry!.Secret : DecoySecret, purpose, name, nonce);
            if (CryptographicOperations.FixedTimeEquals(expected, proof) && known)
            {
                if (limiter.RecordSuccess(remote, name) is > 0 and var failures && !egress)
                {
                    LogAcceptedDespiteFailures(logger, name, remote, failures);
                }
            }
            else
            {
                // Names that are not configured share one count per address, so made-up names add no attempts. (Names
                // are no secret: they are in every public URL.)
                var safeName = !TunnelHandshake.IsValidName(name) ? "(invalid)" : known ? name : "(unknown)";
                if (!limiter.TryBeginAttempt(remote, safeName, out var lastAttempt))
                {
                    LogBlocked(logger, remote, safeName);
                    await RefuseAsync(socket, remote, safeName, blockedNow: false, logged: false);
                    return;
                }

                await RefuseAsync(socket, remote, safeName, blockedNow: lastAttempt, logged: true);
                return;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            if (_abandonedLog.TryPass(out var heldBack))
            {
                LogHandshakeAbandoned(logger, remote, heldBack);
            }

            return;
        }

        if (egress)
        {
            await EgressAsync(socket, name, host!, port, context.RequestAborted);
            return;
        }

        var stream = WebSocketStream.Create(socket, WebSocketMessageType.Binary, TunnelHandshake.CloseTimeout);
        var session = new TunnelSession(name, remote, stream, nonce, options.Appliances[name].Secret, options, time);

        // Registered before the appliance hears it is accepted, so that once it believes it is connected the relay
        // routes to it (requests in between wait in the session until Open).
        var previous = registry.Register(session);
        if (previous is not null)
        {
            LogReplaced(logger, name, previous.Remote, remote);
            await previous.DisposeAsync();
        }

        // On shutdown, close tunnels at once so appliances start reconnecting (to the restarted relay) right away.
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var prober = Task.CompletedTask;
        try
        {
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Accepted, probing.Token);
            session.Open();
            LogConnected(logger, name, remote);
            prober = ProbeLoopAsync(session, probing.Token);
            await session.Ended.WaitAsync(probing.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The relay is stopping, the WebSocket request was aborted, or the acceptance could not be sent.
        }
        finally
        {
            await probing.CancelAsync();
            registry.Remove(session);
            await session.DisposeAsync();
            await prober;
            var lasted = time.GetUtcNow() - session.ConnectedAt;
            LogDisconnected(logger, name, lasted.TotalSeconds);
        }
    }

    /// <summary>Opens the HTTP/2 connection at once (so pings start) and measures the round trip every 10 s.</summary>
    private async Task ProbeLoopAsync(TunnelSession session, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && session.IsOpen)
        {
            try
            {
                using var deadline = new CancellationTokenSource(options.PingInterval + options.PingTimeout, time);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                await session.ProbeAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
            {
                if (!cancellationToken.IsCancellationRequested)
                {
                    LogProbeFailed(logger, session.Name, ex.Message);
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task EgressAsync(WebSocket socket, string name, string host, int port, CancellationToken cancellationToken)
    {
        if (!EgressAllowed(host, port))
        {
            LogEgressRefused(logger, name, host, port);
            await CloseQuietlyAsync(socket, WebSocketCloseStatus.PolicyViolation, TunnelHandshake.EgressNotAllowed);
            return;
        }

        using var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(host, port, connectTimeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            LogEgressUnreachable(logger, name, host, port, ex.Message);
            await CloseQuietlyAsync(socket, WebSocketCloseStatus.EndpointUnavailable, TunnelHandshake.EgressUnreachable);
            return;
        }

        try
        {
            await TunnelHandshake.SendTextAsync(socket, TunnelHandshake.Accepted, cancellationToken);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            return; // the appliance gave up on this stream meanwhile
        }

        await using var tunnel = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: false);
        await using var target = tcp.GetStream();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var up = PumpAsync(tunnel, target, done);
        var down = PumpAsync(target, tunnel, done);
        await Task.WhenAny(up, down);
        await done.CancelAsync();
        await Task.WhenAll(up, down);
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationTokenSource done)
    {
        try
        {
            await from.CopyToAsync(to, 32 * 1024, done.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
        finally
        {
            await done.CancelAsync();
        }
    }

    internal bool EgressAllowed(string host, int port)
    {
        // The appliance may name an IPv6 address with or without brackets; entries hold it without.
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return options.EffectiveEgressAllowList.Any(entry =>
            RelayOptions.TryParseEgressEntry(entry, out var allowedHost, out var allowedPort)
            && allowedPort == port && string.Equals(allowedHost, bare, StringComparison.OrdinalIgnoreCase));
    }

    private async Task RefuseAsync(WebSocket socket, string remote, string name, bool blockedNow, bool logged)
    {
        if (logged && _refusedLog.TryPass(out var heldBack))
        {
            LogRefused(logger, remote, name, heldBack);
        }

        if (blockedNow && _blockedLog.TryPass(out var blockedHeldBack))
        {
            LogNowBlocked(logger, remote, name, options.MaxAuthFailures, options.AuthFailureWindow.TotalMinutes, blockedHeldBack);
        }

        await CloseQuietlyAsync(socket, WebSocketCloseStatus.PolicyViolation, TunnelHandshake.AuthenticationFailed);
    }

    /// <summary>Closes with a reason for the appliance to report; it may already have gone, which is fine.</summary>
    private static async Task CloseQuietlyAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TunnelHandshake.CloseTimeout);
            await socket.CloseAsync(status, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Appliance {Name} connected from {Remote}")]
    private static partial void LogConnected(ILogger logger, string name, string remote);

    [LoggerMessage(Level = LogLevel.Information, Message = "Appliance {Name} disconnected after {Seconds:0.0} s")]
    private static partial void LogDisconnected(ILogger logger, string name, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Appliance {Name} reconnected from {Remote}; closing its old session from {Old}")]
    private static partial void LogReplaced(ILogger logger, string name, string old, string remote);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Tunnel login refused from {Remote} for {Name}: its answer does not fit the secret configured for that name ({HeldBack} more refusals since the last such line)")]
    private static partial void LogRefused(ILogger logger, string remote, string name, int heldBack);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Appliance {Name} logged in from {Remote} with the right secret; {Failures} wrong logins for it came from that address within the window (someone else there: carrier-grade NAT, a guest device), which did not stop it")]
    private static partial void LogAcceptedDespiteFailures(ILogger logger, string name, string remote, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tunnel logins from {Remote} for {Name} failed {Count} times; wrong answers from there are refused at once for {Minutes} min (the right secret is still accepted; {HeldBack} more addresses since the last such line)")]
    private static partial void LogNowBlocked(ILogger logger, string remote, string name, int count, double minutes, int heldBack);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Tunnel login from {Remote} for {Name} refused unchecked (too many failures)")]
    private static partial void LogBlocked(ILogger logger, string remote, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tunnel handshake from {Remote} abandoned ({HeldBack} more since the last such line)")]
    private static partial void LogHandshakeAbandoned(ILogger logger, string remote, int heldBack);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Egress from {Name} to {Host}:{Port} refused: not on Relay:EgressAllowList")]
    private static partial void LogEgressRefused(ILogger logger, string name, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Egress from {Name} to {Host}:{Port} failed: {Reason}")]
    private static partial void LogEgressUnreachable(ILogger logger, string name, string host, int port, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Probe of {Name} failed: {Reason}")]
    private static partial void LogProbeFailed(ILogger logger, string name, string reason);
}

/// <summary>The visitor's address and scheme: the socket's, or a loopback proxy's X-Forwarded-* when trusted.</summary>
internal sealed class ClientAddress(RelayOptions options)
{
    public string Of(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (options.TrustProxyHeaders && remote is not null && System.Net.IPAddress.IsLoopback(remote)
            && Last(context.Request.Headers["X-Forwarded-For"].ToString()) is { Length: > 0 } forwarded
            && System.Net.IPAddress.TryParse(forwarded, out var client))
        {
            return client.ToString();
        }

        return remote?.ToString() ?? "?";
    }

    public string SchemeOf(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (options.TrustProxyHeaders && remote is not null && System.Net.IPAddress.IsLoopback(remote)
            && Last(context.Request.Headers["X-Forwarded-Proto"].ToString()) is "https" or "http")
        {
            return Last(context.Request.Headers["X-Forwarded-Proto"].ToString());
        }

        return context.Request.Scheme;
    }

    private static string Last(string value)
    {
        var comma = value.LastIndexOf(',');
        return (comma < 0 ? value : value[(comma + 1)..]).Trim();
    }
}
