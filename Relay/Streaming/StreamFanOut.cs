using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Relay.Hosting;
using Relay.Tunnel;
using TunnelProtocol;

namespace Relay.Streaming;

/// <summary>One MJPEG part as the relay re-sends it: headers, JPEG and the next boundary, shared by all viewers.</summary>
internal sealed record RelayedFrame(long Sequence, byte[] Part, int JpegOffset, int JpegLength, long ReceivedAt, string? Timestamp);

/// <summary>
/// The relay's copy of one appliance's stream: a single upstream <c>/stream</c> request however many viewers watch,
/// the newest frame kept for each to take (a viewer that stalls skips to the newest, never queues, never slows the
/// others), closed <c>Relay:StreamLinger</c> after the last viewer leaves.
/// </summary>
internal sealed partial class StreamFanOut : IDisposable
{
    public const string Boundary = "frame";
    public const string ContentType = "multipart/x-mixed-replace; boundary=" + Boundary;

    /// <summary>The least time between two viewer counts posted to the appliance.</summary>
    internal static readonly TimeSpan ViewerReportInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly string _name;
    private readonly TunnelRegistry _registry;
    private readonly RelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private RelayedFrame? _latest;
    private TaskCompletionSource _next = NewSignal();
    private TaskCompletionSource _viewersChanged = NewSignal();
    private int _viewers;
    private CancellationTokenSource? _upstream;
    private ITimer? _linger;
    private long _lingerGeneration;
    private long _sequence;
    private long _framesReceived;
    private long _upstreamStarts;

    public StreamFanOut(string name, TunnelRegistry registry, RelayOptions options, TimeProvider time, ILogger logger)
    {
        _name = name;
        _registry = registry;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public int Viewers => Volatile.Read(ref _viewers);

    public bool UpstreamOpen
    {
        get
        {
            lock (_gate)
            {
                return _upstream is not null;
            }
        }
    }

    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>How many times an upstream request was started (1 for any number of simultaneous viewers).</summary>
    public long UpstreamStarts => Interlocked.Read(ref _upstreamStarts);

    /// <summary>The newest frame when it is younger than <paramref name="maxAge"/>.</summary>
    public RelayedFrame? FreshFrame(TimeSpan maxAge)
    {
        var frame = Volatile.Read(ref _latest);
        return frame is not null && _time.GetElapsedTime(frame.ReceivedAt) <= maxAge ? frame : null;
    }

    /// <summary>Registers a viewer (starting the upstream if needed); dispose to leave.</summary>
    public IDisposable AddViewer()
    {
        lock (_gate)
        {
            _viewers++;
            SignalViewersChanged();
            _linger?.Dispose();
            _linger = null;
            _lingerGeneration++;
            if (_upstream is null)
            {
                _upstream = new CancellationTokenSource();
                Interlocked.Increment(ref _upstreamStarts);
                _ = RunUpstreamAsync(_upstream.Token);
                _ = ReportViewersAsync(_upstream.Token);
            }
        }

        return new Leave(this);
    }

    public async ValueTask<RelayedFrame> NextAsync(long afterSequence, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_latest is { } frame && frame.Sequence > afterSequence)
                {
                    return frame;
                }

                wait = _next.Task;
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    private void RemoveViewer()
    {
        lock (_gate)
        {
            --_viewers;
            SignalViewersChanged();
            if (_viewers > 0 || _upstream is null)
            {
                return;
            }

            _linger?.Dispose();
            var generation = ++_lingerGeneration;
            _linger = _time.CreateTimer(_ => StopIfIdle(generation), null, _options.StreamLinger, Timeout.InfiniteTimeSpan);
        }
    }

    private void StopIfIdle(long generation)
    {
        CancellationTokenSource? upstream;
        lock (_gate)
        {
            // A timer's callback can run after Dispose (it was already on its way): only the current linger may stop.
            if (_viewers > 0 || generation != _lingerGeneration)
            {
                return;
            }

            upstream = _upstream;
            _upstream = null;
            _linger?.Dispose();
            _linger = null;

            // Whoever comes next waits for a frame of the new upstream rather than see this one, however old it is then.
            _latest = null;
        }

        if (upstream is not null)
        {
            LogUpstreamClosed(_logger, _name);
            upstream.Cancel();
            upstream.Dispose();
        }
    }

    private async Task RunUpstreamAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var session = _registry.Get(_name);
            try
            {
                if (session is null)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken);
                    continue;
                }

                using var request = TunnelSession.NewRequest(HttpMethod.Get, "/stream");
                request.Headers.TryAddWithoutValidation(TunnelHandshake.RelayKeyHeader, session.RelayKey);
                request.Headers.TryAddWithoutValidation(TunnelHandshake.ViewersHeader, Viewers.ToString(CultureInfo.InvariantCulture));
                using var response = await session.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    LogUpstreamRefused(_logger, _name, (int)response.StatusCode);
                    await Task.Delay(TimeSpan.FromSeconds(2), _time, cancellationToken);
                    continue;
                }

                LogUpstreamOpened(_logger, _name);
                var boundary = MjpegPartReader.BoundaryOf(response.Content.Headers.ContentType?.ToString()) ?? Boundary;
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                await MjpegPartReader.ReadAsync(PipeReader.Create(body), boundary, (jpeg, timestamp) => Publish(jpeg, timestamp, cancellationToken), cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidDataException or OperationCanceledException)
            {
                LogUpstreamFailed(_logger, _name, ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Called under the gate whenever a viewer comes or goes.</summary>
    private void SignalViewersChanged()
    {
        var changed = _viewersChanged;
        _viewersChanged = NewSignal();
        changed.TrySetResult();
    }

    /// <summary>
    /// While the upstream is open, tells the appliance how many watch through it (its status counts them, not this one
    /// connection): the newest count, at most once per <see cref="ViewerReportInterval"/>; tried again after a failure or
    /// while the appliance has not opened the stream yet.
    /// The stream request itself carries the count when it opens, so only changes are posted.
    /// </summary>
    private async Task ReportViewersAsync(CancellationToken cancellationToken)
    {
        var reported = Viewers;
        try
        {
            while (true)
            {
                Task changed;
                int count;
                lock (_gate)
                {
                    changed = _viewersChanged.Task;
                    count = _viewers;
                }

                if (count == reported)
                {
                    await changed.WaitAsync(cancellationToken);
                    continue;
                }

                if (_registry.Get(_name) is { } session)
                {
                    try
                    {
                        using var request = TunnelSession.NewRequest(HttpMethod.Post, TunnelHandshake.ViewersPath);
                        request.Headers.TryAddWithoutValidation(TunnelHandshake.RelayKeyHeader, session.RelayKey);
                        request.Headers.TryAddWithoutValidation(TunnelHandshake.ViewersHeader, count.ToString(CultureInfo.InvariantCulture));
                        using var response = await session.SendAsync(request, cancellationToken);

                        // 409: the count overtook the stream request (not open there yet): sent again below. Any other
                        // answer (an older appliance's 404 too) ends the attempt.
                        if (response.StatusCode != System.Net.HttpStatusCode.Conflict)
                        {
                            reported = count;
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                    {
                        // The tunnel dropped: the reopened stream request carries the count, or the next attempt does.
                    }
                }

                await Task.Delay(ViewerReportInterval, _time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Publish(ReadOnlySequence<byte> jpeg, string? timestamp, CancellationToken upstream)
    {
        // The part is built once and shared by every viewer: headers, JPEG, then the next boundary (Chromium paints
        // a frame when the next part begins).
        var header = new StringBuilder(128)
            .Append("Content-Type: image/jpeg\r\nContent-Length: ").Append(jpeg.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        if (timestamp is not null)
        {
            header.Append("X-Timestamp: ").Append(timestamp).Append("\r\n");
        }

        header.Append("\r\n");
        var headerBytes = Encoding.ASCII.GetBytes(header.ToString());
        var trailer = "\r\n--frame\r\n"u8;
        var part = GC.AllocateUninitializedArray<byte>(headerBytes.Length + (int)jpeg.Length + trailer.Length);
        headerBytes.CopyTo(part, 0);
        jpeg.CopyTo(part.AsSpan(headerBytes.Length));
        trailer.CopyTo(part.AsSpan(headerBytes.Length + (int)jpeg.Length));
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_upstream is null || _upstream.Token != upstream)
            {
                return; // a frame the closed upstream was still reading
            }

            _latest = new RelayedFrame(++_sequence, part, headerBytes.Length, (int)jpeg.Length, _time.GetTimestamp(), timestamp);
            signal = _next;
            _next = NewSignal();
        }

        Interlocked.Increment(ref _framesReceived);
        signal.TrySetResult();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _linger?.Dispose();
            _upstream?.Cancel();
            _upstream?.Dispose();
            _upstream = null;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Leave(StreamFanOut owner) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                owner.RemoveViewer();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stream upstream for {Name} opened")]
    private static partial void LogUpstreamOpened(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stream upstream for {Name} closed (no viewers)")]
    private static partial void LogUpstreamClosed(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream upstream for {Name} answered {Status}")]
    private static partial void LogUpstreamRefused(ILogger logger, string name, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream upstream for {Name} failed: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string name, string reason);
}

/// <summary>One <see cref="StreamFanOut"/> per appliance, made on first use.</summary>
internal sealed class StreamFanOuts(TunnelRegistry registry, RelayOptions options, TimeProvider time, ILogger<StreamFanOut> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, StreamFanOut> _hubs = new(StringComparer.Ordinal);

    public StreamFanOut For(string name) => _hubs.GetOrAdd(name, n => new StreamFanOut(n, registry, options, time, logger));

    public StreamFanOut? Existing(string name) => _hubs.TryGetValue(name, out var hub) ? hub : null;

    public void Dispose()
    {
        foreach (var hub in _hubs.Values)
        {
            hub.Dispose();
        }
    }
}
