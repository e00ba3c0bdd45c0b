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
/// Store-and-forward for <c>/NAME/wecom/callback</c>. The relay checks WeCom's signature, then forwards the raw
/// request; when the appliance is offline, has callbacks still queued, or has not answered within
/// <c>Relay:CallbackTimeout</c> (4 s; WeCom gives up at 5), WeCom gets 200 with an empty body at once and the request
/// waits in SQLite. Queued callbacks are replayed in order when the appliance is back, marked with
/// <c>X-Relay-Replayed-At</c> so it answers through message/send; its MsgId dedupe makes a replay of something it
/// already saw harmless.
/// </summary>
internal sealed partial class CallbackRelay : BackgroundService
{
    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);
    private readonly Channel<string> _wake = Channel.CreateUnbounded<string>();
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
        registry.Connected += name => _wake.Writer.TryWrite(name);
    }

    public int Pending(string appliance) => _store.Pending(appliance);

    public async Task HandleAsync(HttpContext context, ApplianceRoute route)
    {
        var token = _options.Appliances[route.Name].WeComToken;
        var query = context.Request.Query;
        var request = context.Request;
        if (HttpMethods.IsGet(request.Method))
        {
            // URL verification: signature over echostr; only the appliance can decrypt it, so it must be online.
            if (!CallbackSignature.Verify(token, query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]))
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
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            await RefuseAsync(context, route.Name, StatusCodes.Status413PayloadTooLarge, "body too large");
            return;
        }

        if (!CallbackSignature.Verify(token, query["msg_signature"], query["timestamp"], query["nonce"], CallbackSignature.ReadEncrypt(body)))
        {
            await RefuseAsync(context, route.Name, StatusCodes.Status403Forbidden, "signature mismatch");
            return;
        }

        var pathAndQuery = route.Path + request.QueryString.Value;
        var receivedAt = _time.GetUtcNow().ToUnixTimeSeconds();
        var session = _registry.Get(route.Name);
        if (session is null || _store.Pending(route.Name) > 0)
        {
            _store.Add(route.Name, receivedAt, pathAndQuery, request.ContentType, body, queued: true);
            LogStored(_logger, route.Name, session is null ? "offline" : "earlier callbacks still queued");
            _wake.Writer.TryWrite(route.Name);
            return; // 200, empty body
        }

        var id = _store.Add(route.Name, receivedAt, pathAndQuery, request.ContentType, body, queued: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(_options.CallbackTimeout);
        try
        {
            using var forward = _forwarder.CreateRequest(context, route, route.Path, withBody: false);
            forward.Method = HttpMethod.Post;
            forward.Content = Content(body, request.ContentType);
            using var response = await session.SendAsync(forward, deadline.Token);
            if ((int)response.StatusCode < 500)
            {
                _store.Delete(id);
                var answer = await response.Content.ReadAsByteArrayAsync(deadline.Token);
                context.Response.StatusCode = (int)response.StatusCode;
                if (response.Content.Headers.ContentType is { } contentType)
                {
                    context.Response.ContentType = contentType.ToString();
                }

                await context.Response.Body.WriteAsync(answer, context.RequestAborted);
                return;
            }

            LogStoredStatus(_logger, route.Name, (int)response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            var reason = deadline.IsCancellationRequested ? "no answer in time" : ex.Message;
            LogStored(_logger, route.Name, reason);
        }

        _store.MarkQueued(id);
        _wake.Writer.TryWrite(route.Name);
        // 200 with an empty body: WeCom will not retry, and the appliance answers later through message/send.
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RetryInterval, _time);
        var ticks = RetryTicksAsync(timer, stoppingToken);
        try
        {
            await foreach (var name in _wake.Reader.ReadAllAsync(stoppingToken))
            {
                await DrainAsync(name, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await ticks;
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
                        _wake.Writer.TryWrite(name);
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
            using var request = TunnelSession.NewRequest(HttpMethod.Post, stored.PathAndQuery);
            request.Content = Content(stored.Body, stored.ContentType);
            request.Headers.TryAddWithoutValidation(TunnelHandshake.ReplayHeader, stored.ReceivedAt.ToString(CultureInfo.InvariantCulture));
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
                    _store.Delete(stored.Id);
                    LogReplayDropped(_logger, name, stored.Id, status);
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
                if (GiveUpAfterFailure(name, stored, ex.Message))
                {
                    continue;
                }

                return;
            }
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stored WeCom callback {Id} for {Name} dropped: the appliance answered {Status}")]
    private static partial void LogReplayDropped(ILogger logger, string name, long id, int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stored WeCom callback {Id} for {Name} given up after {Attempts} failed replays (last: {Reason}); later ones go on")]
    private static partial void LogReplayGaveUp(ILogger logger, string name, long id, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replaying WeCom callback {Id} to {Name} failed ({Reason}); retrying later")]
    private static partial void LogReplayFailed(ILogger logger, string name, long id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom callback for {Name} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string name, string reason);
}
