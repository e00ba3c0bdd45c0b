using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Relay.Hosting;
using Relay.Proxy;
using Relay.Tunnel;
using TunnelProtocol;

namespace Relay.WeCom;

/// <summary>
/// Store-and-forward for <c>/NAME/wecom/callback</c>. The relay checks WeCom's signature and that it was signed within
/// <c>Relay:MaxClockSkew</c>, then forwards the raw request; when the appliance is offline, has callbacks still queued
/// or in flight, or has not answered within <c>Relay:CallbackTimeout</c> (4 s; WeCom gives up at 5), WeCom gets 200
/// with an empty body at once and the request waits in SQLite. A live request that timed out is still awaited: when
/// the appliance answers it after all, it is not replayed (unless its answer was a passive reply WeCom never saw).
/// Queued callbacks are replayed in order, per appliance, when the appliance is back, marked with
/// <c>X-Relay-Replayed-At</c> so it answers through message/send; its MsgId dedupe makes a replay of something it
/// already saw harmless.
/// </summary>
internal sealed partial class CallbackRelay : BackgroundService
{
    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan TunnelDropGrace = TimeSpan.FromSeconds(1);
    private const int MaxReasonChars = 200;

    /// <summary>The appliance's callback endpoint: where a callback goes however the visitor spelled the path.</summary>
    private const string CallbackPath = "/wecom/callback";
    private readonly Dictionary<string, Channel<bool>> _wake;
    private readonly CancellationTokenSource _stopping = new();
    private readonly RelayOptions _options;
    private readonly TunnelRegistry _registry;
    private readonly Forwarder _forwarder;
    private readonly CallbackStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<CallbackRelay> _logger;

    public CallbackRelay(RelayOptions options, TunnelRegistry registry, Forwarder forwarder, CallbackStore store, TimeProvider time, ILogger<CallbackRelay> logger)
    {
        _options = options;
        _registry = registry;
        _forwarder = forwarder;
        _store = store;
        _time = time;
        _logger = logger;
        _wake = options.Appliances.Keys.ToDictionary(
            name => name, _ => Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite }), StringComparer.Ordinal);
        registry.Connected += Wake;
    }

    public int Pending(string appliance) => _store.Pending(appliance);

    /// <summary>
    /// Where a stored callback is replayed: the appliance's endpoint, with the stored query. Rows a relay stored before
    /// it sent every callback to <see cref="CallbackPath"/> hold the visitor's spelling, which the appliance may not route.
    /// </summary>
    internal static string ReplayTarget(string pathAndQuery) =>
        CallbackPath + (pathAndQuery.IndexOf('?', StringComparison.Ordinal) is var query and >= 0 ? pathAndQuery[query..] : "");

    public async Task HandleAsync(HttpContext context, ApplianceRoute route)
    {
        // The front door takes any case and repeated or trailing slashes; the appliance's routing does not take them
        // all (//), and a stored callback replayed to a path it does not serve would be dropped as refused.
        route = route with { Path = CallbackPath, Target = CallbackPath };
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await VerifyUrlAsync(context, route);
        }
        else if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        }
        else if (await ReadSignedBodyAsync(context, route.Name) is { } body)
        {
            await StoreAndForwardAsync(context, route, body);
        }
    }

    /// <summary>URL verification: signature over echostr; only the appliance can decrypt it, so it must be online.</summary>
    private async Task VerifyUrlAsync(HttpContext context, ApplianceRoute route)
    {
        var query = context.Request.Query;
        if (!CallbackSignature.Verify(_options.Appliances[route.Name].WeComToken, query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]))
        {
            await RefuseAsync(context, route.Name, StatusCodes.Status403Forbidden, "signature mismatch");
            return;
        }

        if (_registry.Get(route.Name) is not { } online)
        {
            await Pages.WriteUnavailableAsync(context, route.Name, "is not connected to the relay right now");
            return;
        }

        await _forwarder.ForwardAsync(context, online, route);
    }

    /// <summary>
    /// The callback's body when it is within <c>Relay:MaxCallbackBytes</c>, signed with the appliance's token and signed
    /// recently; null when it was refused (and answered).
    /// </summary>
    private async Task<byte[]?> ReadSignedBodyAsync(HttpContext context, string name)
    {
        var query = context.Request.Query;
        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            await RefuseAsync(context, name, StatusCodes.Status413PayloadTooLarge, "body too large");
            return null;
        }

        if (!CallbackSignature.Verify(_options.Appliances[name].WeComToken, query["msg_signature"], query["timestamp"], query["nonce"], CallbackSignature.ReadEncrypt(body)))
        {
            await RefuseAsync(context, name, StatusCodes.Status403Forbidden, "signature mismatch");
            return null;
        }

        if (!SignedRecently(query["timestamp"], out var skew))
        {
            // Signed long ago (a captured callback posted again) or by a wrong clock: stored, it would run on replay.
            await RefuseAsync(context, name, StatusCodes.Status403Forbidden, $"timestamp {skew} (Relay:MaxClockSkew {_options.MaxClockSkew})");
            return null;
        }

        return body;
    }

    /// <summary>
    /// Stores a checked callback first, then forwards it live when the appliance is online and nothing waits before it;
    /// otherwise (or when the answer does not come in time) WeCom gets 200 with an empty body and the replay delivers it.
    /// </summary>
    private async Task StoreAndForwardAsync(HttpContext context, ApplianceRoute route, byte[] body)
    {
        var request = context.Request;
        var receivedAt = _time.GetUtcNow().ToUnixTimeSeconds();
        var session = _registry.Get(route.Name);
        var signature = request.Query["msg_signature"].ToString().ToLowerInvariant(); // verified: the same callback, however spelled
        if (_store.Add(route.Name, receivedAt, route.Path + request.QueryString.Value, request.ContentType, body, signature, live: session is not null, _options.MaxStoredCallbacks)
            is not (var id, var live, var duplicate))
        {
            // Full (a long outage): WeCom is told, so it retries, rather than getting a 200 for something the relay did
            // not keep.
            context.Response.Headers.RetryAfter = "60";
            await RefuseAsync(context, route.Name, StatusCodes.Status503ServiceUnavailable,
                $"not stored: {_options.MaxStoredCallbacks} callbacks are already waiting for the appliance (Relay:MaxStoredCallbacks)");
            return;
        }

        if (duplicate)
        {
            // The same signed callback again (WeCom's retry, or a captured one posted again, perhaps with other unsigned
            // parts): kept once is enough; the appliance's MsgId dedupe would drop the copies anyway.
            LogStored(_logger, route.Name, "the same callback is already stored, kept once");
            Wake(route.Name);
            return; // 200, empty body
        }

        if (session is null || !live)
        {
            LogStored(_logger, route.Name, session is null ? "offline" : "earlier callbacks still queued or in flight");
            Wake(route.Name);
            return; // 200, empty body
        }

        if (await ForwardLiveAsync(context, route, session, id, body, receivedAt) is not { } answer)
        {
            return; // stored for replay, or settled later; 200 with an empty body
        }

        context.Response.StatusCode = answer.Status;
        if (answer.ContentType is { } contentType)
        {
            context.Response.ContentType = contentType;
        }

        await context.Response.Body.WriteAsync(answer.Body, context.RequestAborted);
    }

    /// <summary>
    /// Sends the stored callback <paramref name="id"/> to the appliance and waits up to <c>Relay:CallbackTimeout</c>
    /// for its answer; null when WeCom gets an empty 200 instead (the delivery settles the row in the background).
    /// </summary>
    private async Task<LiveAnswer?> ForwardLiveAsync(HttpContext context, ApplianceRoute route, TunnelSession session, long id, byte[] body, long receivedAt)
    {
        var handover = new Handover();
        Task<LiveAnswer?> delivery;
        try
        {
            var forward = await _forwarder.CreateRequestAsync(context, route, HttpMethod.Post, route.Path);
            forward.Content = Content(body, context.Request.ContentType);
            // Checked above against the relay's clock; the appliance's may be wrong (a Pi without RTC before NTP syncs).
            forward.Headers.TryAddWithoutValidation(TunnelHandshake.TimeCheckedHeader, receivedAt.ToString(CultureInfo.InvariantCulture));
            delivery = DeliverLiveAsync(route.Name, id, session, forward, handover);
        }
        catch
        {
            _store.MarkQueued(id);
            Wake(route.Name);
            throw;
        }

        try
        {
            return await delivery.WaitAsync(_options.CallbackTimeout, _time, context.RequestAborted);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (handover.TryGiveUp())
            {
                // 200 with an empty body: WeCom will not retry. The appliance's answer is still awaited (DeliverLiveAsync):
                // replayed only if it does not come or is a failure, so something the appliance ran is not sent again.
                LogStored(_logger, route.Name, "no answer in time");
                return null;
            }

            return await delivery; // it came just now
        }
    }

    /// <summary>
    /// Forwards a callback live and settles its row whatever happens: deleted when the appliance answered below 500,
    /// queued for replay otherwise (or when the answer was a passive reply that came after WeCom had its empty 200).
    /// Returns the answer for WeCom when it came in time, null when WeCom gets an empty 200.
    /// </summary>
    private async Task<LiveAnswer?> DeliverLiveAsync(string name, long id, TunnelSession session, HttpRequestMessage forward, Handover handover)
    {
        var delivered = false;
        try
        {
            using (forward)
            using (var timeout = new CancellationTokenSource(ReplayTimeout, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token))
            {
                using var response = await session.SendAsync(forward, linked.Token);
                var status = (int)response.StatusCode;
                var answer = new LiveAnswer(status, response.Content.Headers.ContentType?.ToString(), await response.Content.ReadAsByteArrayAsync(linked.Token));
                var inTime = handover.TryHandOver();
                if (status >= 500)
                {
                    LogStoredStatus(_logger, name, status);
                    return null;
                }

                if (!inTime && status is >= 200 and < 300 && answer.Body.Length > 0)
                {
                    // A passive reply WeCom will never see: the replay makes the appliance (whose MsgId dedupe joins
                    // the run it made) send it through message/send.
                    LogLateReply(_logger, name);
                    return null;
                }

                if (status >= 400)
                {
                    LogLiveRefused(_logger, name, status, Reason(answer.Body));
                }

                delivered = true;
                return inTime ? answer : null;
            }
        }
        catch (Exception ex)
        {
            LogStored(_logger, name, ex.Message);
            return null;
        }
        finally
        {
            try
            {
                if (delivered)
                {
                    _store.Delete(id);
                }
                else
                {
                    _store.MarkQueued(id);
                }

                Wake(name); // the ones queued behind it may go now
            }
            catch (Exception ex) when (ex is ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException)
            {
                // Shutting down: an in-flight row is queued again at the next start.
            }
        }
    }

    /// <summary>Whether the signed timestamp is within <c>Relay:MaxClockSkew</c> of now; <paramref name="skew"/> says how far off it is.</summary>
    private bool SignedRecently(string? timestamp, out string skew)
    {
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 32503680000)
        {
            skew = "is not a Unix time";
            return false;
        }

        var off = _time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds);
        skew = $"is {off.TotalSeconds:0} s off";
        return off.Duration() <= _options.MaxClockSkew;
    }

    private void Wake(string name)
    {
        if (_wake.TryGetValue(name, out var wake))
        {
            wake.Writer.TryWrite(true);
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        return base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _stopping.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RetryInterval, _time);
        var ticks = RetryTicksAsync(timer, stoppingToken);

        // One drain per appliance: one that hangs on a replay does not hold back the others.
        await Task.WhenAll(_wake.Select(pair => DrainLoopAsync(pair.Key, pair.Value.Reader, stoppingToken)));
        await ticks;
    }

    private async Task DrainLoopAsync(string name, ChannelReader<bool> wake, CancellationToken stoppingToken)
    {
        try
        {
            while (await wake.WaitToReadAsync(stoppingToken))
            {
                wake.TryRead(out _);
                await DrainAsync(name, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RetryTicksAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            do
            {
                foreach (var name in _options.Appliances.Keys)
                {
                    if (_store.Pending(name) > 0 && _registry.Get(name) is not null)
                    {
                        Wake(name);
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task DrainAsync(string name, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && _registry.Get(name) is { } session && _store.Oldest(name) is { } stored)
        {
            if (stored.InFlight)
            {
                return; // still being forwarded live: it must not be overtaken; settling it wakes this drain again
            }

            using var request = TunnelSession.NewRequest(HttpMethod.Post, ReplayTarget(stored.PathAndQuery));
            request.Content = Content(stored.Body, stored.ContentType);
            request.Headers.TryAddWithoutValidation(TunnelHandshake.ReplayHeader, stored.ReceivedAt.ToString(CultureInfo.InvariantCulture));
            // The relay's now, so the appliance measures the message's age by the relay's clock rather than its own.
            request.Headers.TryAddWithoutValidation(TunnelHandshake.TimeCheckedHeader, _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(ReplayTimeout);
                using var response = await session.SendAsync(request, timeout.Token);
                var status = (int)response.StatusCode;
                if (status is >= 200 and < 300)
                {
                    _store.Delete(stored.Id);
                    LogReplayed(_logger, name, stored.Id);
                    continue;
                }

                if (status is >= 400 and < 500 and not 408 and not 429)
                {
                    // The appliance refused it (signature, age, decryption, size): trying again would be refused too.
                    var reason = Reason(await ReadSomeAsync(response, timeout.Token));
                    _store.Delete(stored.Id);
                    LogReplayRefused(_logger, name, stored.Id, status, reason);
                    continue;
                }

                if (GiveUpAfterFailure(name, stored, status.ToString(CultureInfo.InvariantCulture)))
                {
                    continue;
                }

                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    return;
                }

                if (await TunnelDroppedAsync(session))
                {
                    // Not the callback's fault: a flapping tunnel must not use up its attempts and get it dropped.
                    LogReplayInterrupted(_logger, name, stored.Id, ex.Message);
                    return;
                }

                if (GiveUpAfterFailure(name, stored, ex.Message))
                {
                    continue;
                }

                return;
            }
        }
    }

    /// <summary>Whether the tunnel the replay went through has ended (it may take a moment after the failed request).</summary>
    private async Task<bool> TunnelDroppedAsync(TunnelSession session)
    {
        try
        {
            await session.Ended.WaitAsync(TunnelDropGrace, _time);
        }
        catch (TimeoutException)
        {
        }

        return !session.IsOpen || !ReferenceEquals(_registry.Get(session.Name), session);
    }

    /// <summary>Counts a failed replay; true when it was the last allowed and the callback is dropped, so the next may go.</summary>
    private bool GiveUpAfterFailure(string name, StoredCallback stored, string reason)
    {
        if (stored.Attempts + 1 >= _options.MaxReplayAttempts)
        {
            _store.Delete(stored.Id);
            LogReplayGaveUp(_logger, name, stored.Id, stored.Attempts + 1, reason);
            return true;
        }

        _store.RecordAttempt(stored.Id);
        LogReplayFailed(_logger, name, stored.Id, reason);
        return false;
    }

    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        var limit = _options.MaxCallbackBytes;
        if (context.Request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static ByteArrayContent Content(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed))
        {
            content.Headers.ContentType = parsed;
        }

        return content;
    }

    private static async Task<byte[]> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            return [];
        }
    }

    /// <summary>The start of the appliance's answer, one line, for the log (it says why it refused: "rejected: 40001 …").</summary>
    private static string Reason(byte[] body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, MaxReasonChars * 4)).ReplaceLineEndings(" ").Trim();
        return text.Length == 0 ? "no reason given" : text.Length > MaxReasonChars ? text[..MaxReasonChars] + "…" : text;
    }

    private async Task RefuseAsync(HttpContext context, string name, int status, string reason)
    {
        LogRefused(_logger, name, reason);
        context.Response.StatusCode = status;
        await context.Response.WriteAsync(reason + "\n");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom callback for {Name} stored for later: {Reason}")]
    private static partial void LogStored(ILogger logger, string name, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom callback for {Name} stored for later: the appliance answered {Status}")]
    private static partial void LogStoredStatus(ILogger logger, string name, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored WeCom callback {Id} delivered to {Name}")]
    private static partial void LogReplayed(ILogger logger, string name, long id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stored WeCom callback {Id} for {Name} dropped: the appliance refused it with {Status} ({Reason}); it is not tried again")]
    private static partial void LogReplayRefused(ILogger logger, string name, long id, int status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name} refused by the appliance with {Status} ({Reason})")]
    private static partial void LogLiveRefused(ILogger logger, string name, int status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name}: the appliance's passive reply came after WeCom had its empty 200; replayed so it goes out through message/send")]
    private static partial void LogLateReply(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replaying WeCom callback {Id} to {Name} interrupted: the tunnel dropped ({Reason}); not counted as a failed attempt")]
    private static partial void LogReplayInterrupted(ILogger logger, string name, long id, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stored WeCom callback {Id} for {Name} given up after {Attempts} failed replays (last: {Reason}); later ones go on")]
    private static partial void LogReplayGaveUp(ILogger logger, string name, long id, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replaying WeCom callback {Id} to {Name} failed ({Reason}); retrying later")]
    private static partial void LogReplayFailed(ILogger logger, string name, long id, string reason);

    /// <summary>Who settles a live callback's answer: WeCom (handed over in time) or the replay (given up at the deadline).</summary>
    private sealed class Handover
    {
        private int _state;

        /// <summary>True when the answer came in time for WeCom.</summary>
        public bool TryHandOver() => Interlocked.CompareExchange(ref _state, 1, 0) != 2;

        /// <summary>True when WeCom gets an empty 200 because the answer did not come in time.</summary>
        public bool TryGiveUp() => Interlocked.CompareExchange(ref _state, 2, 0) != 1;
    }

    private sealed record LiveAnswer(int Status, string? ContentType, byte[] Body);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string name, string reason);
}
