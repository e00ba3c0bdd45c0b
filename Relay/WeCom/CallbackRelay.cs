using System.Globalization;
using Relay.Hosting;
using Relay.Proxy;
using Relay.Tunnel;
using TunnelProtocol;

namespace Relay.WeCom;

/// <summary>
/// Store-and-forward for <c>/NAME/wecom/callback</c>: receiving. The relay checks WeCom's signature and that it was
/// signed within <c>Relay:MaxClockSkew</c>, stores the callback, then forwards the raw request; when the appliance is
/// offline, has callbacks still queued or in flight, or has not answered within <c>Relay:CallbackTimeout</c> (4 s; WeCom
/// gives up at 5), WeCom gets 200 with an empty body at once and <see cref="CallbackReplay"/> delivers it later. A live
/// request that timed out is still awaited: when the appliance answers it after all, it is not replayed (unless its
/// answer was a passive reply WeCom never saw).
/// </summary>
internal sealed partial class CallbackRelay
{
    /// <summary>The appliance's callback endpoint: where a callback goes however the visitor spelled the path.</summary>
    internal const string CallbackPath = "/wecom/callback";
    private readonly RelayOptions _options;
    private readonly TunnelRegistry _registry;
    private readonly Forwarder _forwarder;
    private readonly CallbackStore _store;
    private readonly CallbackReplay _replay;
    private readonly TimeProvider _time;
    private readonly ILogger<CallbackRelay> _logger;

    public CallbackRelay(
        RelayOptions options, TunnelRegistry registry, Forwarder forwarder, CallbackStore store, CallbackReplay replay, TimeProvider time, ILogger<CallbackRelay> logger)
    {
        _options = options;
        _registry = registry;
        _forwarder = forwarder;
        _store = store;
        _replay = replay;
        _time = time;
        _logger = logger;
    }

    public int Pending(string appliance) => _store.Pending(appliance);

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
            _replay.Wake(route.Name);
            return; // 200, empty body
        }

        if (session is null || !live)
        {
            LogStored(_logger, route.Name, session is null ? "offline" : "earlier callbacks still queued or in flight");
            _replay.Wake(route.Name);
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
            forward.Content = CallbackBodies.Content(body, context.Request.ContentType);
            // Checked above against the relay's clock; the appliance's may be wrong (a Pi without RTC before NTP syncs).
            forward.Headers.TryAddWithoutValidation(TunnelHandshake.TimeCheckedHeader, receivedAt.ToString(CultureInfo.InvariantCulture));
            delivery = DeliverLiveAsync(route.Name, id, session, forward, handover);
        }
        catch
        {
            _store.MarkQueued(id);
            _replay.Wake(route.Name);
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
    /// Forwards a callback live and settles its row whatever happens (<see cref="Settle"/>). Returns the answer for WeCom
    /// when it came in time, null when WeCom gets an empty 200.
    /// </summary>
    private async Task<LiveAnswer?> DeliverLiveAsync(string name, long id, TunnelSession session, HttpRequestMessage forward, Handover handover)
    {
        var delivered = false;
        try
        {
            using (forward)
            using (var timeout = new CancellationTokenSource(CallbackReplay.ReplayTimeout, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _replay.Stopping))
            {
                using var response = await session.SendAsync(forward, linked.Token);
                var answer = new LiveAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), await response.Content.ReadAsByteArrayAsync(linked.Token));
                (delivered, var forWeCom) = Judge(name, answer, inTime: handover.TryHandOver());
                return forWeCom;
            }
        }
        catch (Exception ex)
        {
            LogStored(_logger, name, ex.Message);
            return null;
        }
        finally
        {
            Settle(name, id, delivered);
        }
    }

    /// <summary>
    /// Whether the appliance's live answer delivered the callback (an answer below 500, except a passive reply that came
    /// after WeCom had its empty 200), and what WeCom gets: the answer when it came in time, null for an empty 200.
    /// </summary>
    private (bool Delivered, LiveAnswer? ForWeCom) Judge(string name, LiveAnswer answer, bool inTime)
    {
        if (answer.Status >= 500)
        {
            LogStoredStatus(_logger, name, answer.Status);
            return (false, null);
        }

        if (!inTime && answer.Status is >= 200 and < 300 && answer.Body.Length > 0)
        {
            // A passive reply WeCom will never see: the replay makes the appliance (whose MsgId dedupe joins the run it
            // made) send it through message/send.
            LogLateReply(_logger, name);
            return (false, null);
        }

        if (answer.Status >= 400)
        {
            LogLiveRefused(_logger, name, answer.Status, CallbackBodies.Reason(answer.Body));
        }

        return (true, inTime ? answer : null);
    }

    /// <summary>Deletes a delivered callback's row or queues it for replay, and wakes the replay: the ones behind it may go now.</summary>
    private void Settle(string name, long id, bool delivered)
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

            _replay.Wake(name);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException)
        {
            // Shutting down: an in-flight row is queued again at the next start.
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name} refused by the appliance with {Status} ({Reason})")]
    private static partial void LogLiveRefused(ILogger logger, string name, int status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name}: the appliance's passive reply came after WeCom had its empty 200; replayed so it goes out through message/send")]
    private static partial void LogLateReply(ILogger logger, string name);

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
