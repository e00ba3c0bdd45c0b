using System.Globalization;
using System.Threading.Channels;
using Relay.Hosting;
using Relay.Tunnel;
using TunnelProtocol;

namespace Relay.WeCom;

/// <summary>
/// Replays the callbacks <see cref="CallbackRelay"/> stored, in order, per appliance, when the appliance is back: woken
/// when it connects, when a callback is stored or settled, and every <see cref="RetryInterval"/> while some wait. Each
/// is marked with <c>X-Relay-Replayed-At</c> so the appliance answers through message/send; its MsgId dedupe makes a
/// replay of something it already saw harmless. A callback that keeps failing is dropped after
/// <c>Relay:MaxReplayAttempts</c> so the ones behind it may go; a tunnel that drops mid-replay does not count.
/// </summary>
internal sealed partial class CallbackReplay : BackgroundService
{
    /// <summary>How long a replay (or a live delivery the relay still awaits) may take before it counts as failed.</summary>
    internal static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan TunnelDropGrace = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Channel<bool>> _wake;
    private readonly CancellationTokenSource _stopping = new();
    private readonly RelayOptions _options;
    private readonly TunnelRegistry _registry;
    private readonly CallbackStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<CallbackReplay> _logger;

    public CallbackReplay(RelayOptions options, TunnelRegistry registry, CallbackStore store, TimeProvider time, ILogger<CallbackReplay> logger)
    {
        _options = options;
        _registry = registry;
        _store = store;
        _time = time;
        _logger = logger;
        _wake = options.Appliances.Keys.ToDictionary(
            name => name, _ => Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite }), StringComparer.Ordinal);
        registry.Connected += Wake;
    }

    /// <summary>Cancelled when the host stops the replay: live deliveries still in flight end too (queued again at the next start).</summary>
    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>
    /// Where a stored callback is replayed: the appliance's endpoint, with the stored query. Rows a relay stored before
    /// it sent every callback to <see cref="CallbackRelay.CallbackPath"/> hold the visitor's spelling, which the
    /// appliance may not route.
    /// </summary>
    internal static string ReplayTarget(string pathAndQuery) =>
        CallbackRelay.CallbackPath + (pathAndQuery.IndexOf('?', StringComparison.Ordinal) is var query and >= 0 ? pathAndQuery[query..] : "");

    /// <summary>Asks the appliance's drain to look at its stored callbacks (at most one wake-up waits).</summary>
    public void Wake(string name)
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

    /// <summary>Replays the appliance's stored callbacks oldest first, until one has to wait or none is left.</summary>
    private async Task DrainAsync(string name, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && _registry.Get(name) is { } session && _store.Oldest(name) is { } stored)
        {
            if (stored.InFlight)
            {
                return; // still being forwarded live: it must not be overtaken; settling it wakes this drain again
            }

            if (!await ReplayAsync(name, session, stored, stoppingToken))
            {
                return;
            }
        }
    }

    /// <summary>Replays one stored callback; true when it is settled (delivered, refused or given up) so the next may go.</summary>
    private async Task<bool> ReplayAsync(string name, TunnelSession session, StoredCallback stored, CancellationToken stoppingToken)
    {
        using var request = ReplayRequest(stored);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(ReplayTimeout);
            using var response = await session.SendAsync(request, timeout.Token);
            return await SettleAsync(name, stored, response, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            return !stoppingToken.IsCancellationRequested && await SettleFailureAsync(name, session, stored, ex.Message);
        }
    }

    private HttpRequestMessage ReplayRequest(StoredCallback stored)
    {
        var request = TunnelSession.NewRequest(HttpMethod.Post, ReplayTarget(stored.PathAndQuery));
        request.Content = CallbackBodies.Content(stored.Body, stored.ContentType);
        request.Headers.TryAddWithoutValidation(TunnelHandshake.ReplayHeader, stored.ReceivedAt.ToString(CultureInfo.InvariantCulture));
        // The relay's now, so the appliance measures the message's age by the relay's clock rather than its own.
        request.Headers.TryAddWithoutValidation(TunnelHandshake.TimeCheckedHeader, _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        return request;
    }

    /// <summary>Settles a replay the appliance answered; true when the callback is done with, so the next may go.</summary>
    private async Task<bool> SettleAsync(string name, StoredCallback stored, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300)
        {
            _store.Delete(stored.Id);
            LogReplayed(_logger, name, stored.Id);
            return true;
        }

        if (status is >= 400 and < 500 and not 408 and not 429)
        {
            // The appliance refused it (signature, age, decryption, size): trying again would be refused too.
            var reason = CallbackBodies.Reason(await CallbackBodies.ReadSomeAsync(response, cancellationToken));
            _store.Delete(stored.Id);
            LogReplayRefused(_logger, name, stored.Id, status, reason);
            return true;
        }

        return GiveUpAfterFailure(name, stored, status.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Settles a replay that got no answer; true when the callback was given up, so the next may go.</summary>
    private async Task<bool> SettleFailureAsync(string name, TunnelSession session, StoredCallback stored, string reason)
    {
        if (await TunnelDroppedAsync(session))
        {
            // Not the callback's fault: a flapping tunnel must not use up its attempts and get it dropped.
            LogReplayInterrupted(_logger, name, stored.Id, reason);
            return false;
        }

        return GiveUpAfterFailure(name, stored, reason);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored WeCom callback {Id} delivered to {Name}")]
    private static partial void LogReplayed(ILogger logger, string name, long id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stored WeCom callback {Id} for {Name} dropped: the appliance refused it with {Status} ({Reason}); it is not tried again")]
    private static partial void LogReplayRefused(ILogger logger, string name, long id, int status, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replaying WeCom callback {Id} to {Name} interrupted: the tunnel dropped ({Reason}); not counted as a failed attempt")]
    private static partial void LogReplayInterrupted(ILogger logger, string name, long id, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stored WeCom callback {Id} for {Name} given up after {Attempts} failed replays (last: {Reason}); later ones go on")]
    private static partial void LogReplayGaveUp(ILogger logger, string name, long id, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replaying WeCom callback {Id} to {Name} failed ({Reason}); retrying later")]
    private static partial void LogReplayFailed(ILogger logger, string name, long id, string reason);
}
