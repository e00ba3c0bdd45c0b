using System.Text.Json.Nodes;
using System.Threading.Channels;
using Appliance.Capture;
using Appliance.Events;
using Appliance.Mqtt.Adapters;
using Camera.Motion;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

namespace Appliance.Mqtt;

/// <summary>
/// Keeps one MQTT connection to the broker: publishes Home Assistant discovery, the pins' and readings' states
/// (retained, QoS 1) and snapshots, and hands what it receives to <see cref="MqttCommands"/> (which switches GPIO, as
/// by "mqtt"). Reconnects with a capped backoff; while the broker is away states wait in a bounded newest-per-topic
/// queue, and after each connect discovery and every retained state are published again.
/// </summary>
/// <remarks>
/// MQTTnet 5 has no managed (auto-reconnecting, queueing) client any more, so the reconnect loop and the queue are
/// ours. Message handlers only queue work: awaiting a QoS 1 publish inside MQTTnet's receive handler would wait for an
/// acknowledgement that the same receive loop has to read.
/// </remarks>
internal sealed partial class MqttBridge : BackgroundService, IMotionListener
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan InputPollInterval = TimeSpan.FromSeconds(1);

    private readonly MqttOptions _options;
    private readonly IMqttHardware _hardware;
    private readonly IMqttReadings _readings;
    private readonly SnapshotService _snapshots;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MqttTopics _topics;
    private readonly LatestPerTopicQueue _queue;
    private readonly MqttCommands _commands;
    private readonly IReadOnlyDictionary<string, JsonObject> _discovery;
    private readonly Dictionary<string, MqttPin> _pins;
    private readonly Dictionary<string, bool> _lastInput = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<bool> _snapshotRequests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile IMqttClient? _connected;
    private volatile bool _cameraMotion;
    private int _rediscover;
    private long _connects;

    public MqttBridge(MqttOptions options, IMqttHardware hardware, IMqttReadings readings, SnapshotService snapshots, TimeProvider time, ILogger<MqttBridge> logger)
    {
        _options = options;
        _hardware = hardware;
        _readings = readings;
        _snapshots = snapshots;
        _time = time;
        _logger = logger;
        _topics = new MqttTopics(options);
        _queue = new LatestPerTopicQueue(options.QueueCapacity);
        _pins = hardware.Pins.ToDictionary(p => p.Name, StringComparer.Ordinal);
        _discovery = MqttDiscovery.Build(options, _topics, hardware.Pins, readings.Sensors);
        _commands = new MqttCommands(options, _topics, _discovery, _pins, hardware, logger);
    }

    internal MqttTopics Topics => _topics;

    internal IReadOnlyDictionary<string, JsonObject> Discovery => _discovery;

    public bool IsConnected => _connected is not null;

    /// <summary>Successful connects since start (the first one included).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    public int Queued => _queue.Count;

    public long Dropped => _queue.Dropped;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        _hardware.Changed += OnPinChanged;
        var snapshots = RunSnapshotsAsync(stoppingToken);
        var states = RunStatesAsync(stoppingToken);
        try
        {
            await RunConnectionAsync(stoppingToken);
        }
        finally
        {
            _hardware.Changed -= OnPinChanged;
            await Task.WhenAll(snapshots, states).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task RunConnectionAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        string? lastProblem = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var client = NewClient(disconnected);
            try
            {
                await ConnectAsync(client, stoppingToken);
                failures = 0;
                lastProblem = null;
                await OnConnectedAsync(client, stoppingToken);
                _connected = client;
                await SendAsync(client, disconnected.Task, stoppingToken);
                _connected = null;
                LogLost(_logger, _options.Host);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                _connected = null;
                await SayGoodbyeAsync(client);
                return;
            }
#pragma warning disable CA1031 // The reconnect loop must outlive any failure of one connection.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                // Whatever ends a connection (a refusal, TLS, a publish on a dying socket) must not end the loop:
                // an exception leaving ExecuteAsync would stop the whole appliance.
                _connected = null;
                if (ex.Message != lastProblem)
                {
                    LogConnectFailed(_logger, _options.Host, _options.EffectivePort, ex.Message);
                    lastProblem = ex.Message;
                }
            }

            try
            {
                await Task.Delay(NextDelay(failures++), _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A client that hands what it receives to the commands and completes <paramref name="disconnected"/> when its connection ends.</summary>
    private IMqttClient NewClient(TaskCompletionSource disconnected)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        client.DisconnectedAsync += _ =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        return client;
    }

    /// <summary>Connects, or throws with the reason the broker gave.</summary>
    private async Task ConnectAsync(IMqttClient client, CancellationToken cancellationToken)
    {
        var result = await client.ConnectAsync(MqttConnection.Build(_options, _options.ClientId, _topics, ConnectTimeout), cancellationToken);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"the broker refused the connection: {result.ResultCode}");
        }

        Interlocked.Increment(ref _connects);
        LogConnected(_logger, _options.Host, _options.EffectivePort, _options.Tls);
    }

    /// <summary>Exponential from 250 ms to <see cref="MqttOptions.ReconnectMaxDelay"/>, with jitter, so the broker's return is noticed within that.</summary>
    internal TimeSpan NextDelay(int failures)
    {
        var ceiling = TimeSpan.FromMilliseconds(250 * Math.Pow(2, Math.Min(failures, 16)));
        if (ceiling > _options.ReconnectMaxDelay)
        {
            ceiling = _options.ReconnectMaxDelay;
        }

        return ceiling * (0.5 + (Random.Shared.NextDouble() / 2));
    }

    private async Task OnConnectedAsync(IMqttClient client, CancellationToken cancellationToken)
    {
        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(_topics.SwitchCommandFilter, MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(_topics.ButtonCommandFilter, MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(_topics.HomeAssistantStatus, MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(_topics.OwnDiscoveryFilter, MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await client.SubscribeAsync(subscribe, cancellationToken);
        await PublishDiscoveryAsync(client, cancellationToken);
        if (_queue.Dropped is > 0 and var dropped)
        {
            LogDropped(_logger, dropped);
        }
    }

    /// <summary>Discovery, availability and every retained state (the broker may have lost them all on a restart).</summary>
    private async Task PublishDiscoveryAsync(IMqttClient client, CancellationToken cancellationToken)
    {
        foreach (var (topic, config) in _discovery)
        {
            await PublishAsync(client, new MqttOutgoing(topic, config.ToJsonString(), Retain: true), cancellationToken);
        }

        await PublishAsync(client, new MqttOutgoing(_topics.Availability, MqttTopics.Online, Retain: true), cancellationToken);
        QueueAllStates();
    }

    private void QueueAllStates()
    {
        foreach (var pin in _pins.Values)
        {
            if (_hardware.Read(pin.Name) is { } on)
            {
                QueuePinState(pin, on);
            }
        }

        if (_options.CameraMotion)
        {
            QueueCameraMotion(_cameraMotion);
        }

        QueueReadings();
    }

    private void QueueCameraMotion(bool active) =>
        _queue.Put(new MqttOutgoing(_topics.CameraMotionState, active ? MqttTopics.On : MqttTopics.Off, Retain: true));

    /// <summary>From the motion analyser: ON and a snapshot of what moved; queued, never waiting for the broker.</summary>
    public void MotionStarted(DateTimeOffset start)
    {
        _cameraMotion = true;
        QueueCameraMotion(true);
        _snapshotRequests.Writer.TryWrite(true);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>The motion service ended the event (Motion:QuietSeconds without a moving frame): OFF.</summary>
    public void MotionEnded(MotionEvent motion)
    {
        _cameraMotion = false;
        QueueCameraMotion(false);
        _wake.Writer.TryWrite(true);
    }

    private void QueueReadings()
    {
        foreach (var (key, value) in _readings.Read())
        {
            _queue.Put(new MqttOutgoing(_topics.SensorState(key), value, Retain: true));
        }

        _wake.Writer.TryWrite(true);
    }

    private void QueuePinState(MqttPin pin, bool on)
    {
        if (pin.Role != MqttPinRole.Output)
        {
            lock (_lock)
            {
                _lastInput[pin.Name] = on;
            }
        }

        _queue.Put(new MqttOutgoing(_topics.PinState(pin), on ? MqttTopics.On : MqttTopics.Off, Retain: true));
    }

    /// <summary>Sends what is queued until the connection drops (returns) or the app stops (throws).</summary>
    private async Task SendAsync(IMqttClient client, Task disconnected, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Interlocked.Exchange(ref _rediscover, 0) == 1)
            {
                LogRediscovery(_logger);
                await PublishDiscoveryAsync(client, cancellationToken);
            }

            while (_queue.TryTake(out var message))
            {
                try
                {
                    await PublishAsync(client, message, cancellationToken);
                }
                catch
                {
                    _queue.PutBack(message);
                    throw;
                }
            }

            var wake = _wake.Reader.WaitToReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(wake, disconnected) == disconnected)
            {
                return;
            }

            await wake;
            _wake.Reader.TryRead(out _);
        }
    }

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, MqttOutgoing message, CancellationToken cancellationToken) =>
        client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload)
            .WithRetainFlag(message.Retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken);

    private async Task SayGoodbyeAsync(IMqttClient client)
    {
        if (!client.IsConnected)
        {
            return;
        }

        // A clean disconnect does not fire the last will, so "offline" is published here.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await PublishAsync(client, new MqttOutgoing(_topics.Availability, MqttTopics.Offline, Retain: true), timeout.Token);
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), timeout.Token);
        }
        catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException or IOException)
        {
            // The broker went away at the same moment; its last will says offline instead.
        }
    }

    /// <summary>From the GPIO layer (edge loop, timer or request thread): queue the state, never block.</summary>
    private void OnPinChanged(string name, bool on)
    {
        if (!_pins.TryGetValue(name, out var pin))
        {
            return;
        }

        QueuePinState(pin, on);
        if (on && pin.Role == MqttPinRole.Doorbell)
        {
            _queue.Put(new MqttOutgoing(_topics.PressEvent(name), MqttDiscovery.PressPayload, Retain: false));
        }

        if (on && pin.Role is MqttPinRole.Doorbell or MqttPinRole.Motion)
        {
            _snapshotRequests.Writer.TryWrite(true);
        }

        _wake.Writer.TryWrite(true);
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        var message = args.ApplicationMessage;
        Request(_commands.Handle(message.Topic, message.Payload, message.Retain), message.Topic);
        return Task.CompletedTask;
    }

    /// <summary>Queues what a message from the broker asked for; the send loop publishes it.</summary>
    private void Request(MqttRequest request, string topic)
    {
        switch (request)
        {
            case MqttRequest.RemoveConfig:
                _queue.Put(new MqttOutgoing(topic, "", Retain: true));
                _wake.Writer.TryWrite(true);
                break;
            case MqttRequest.Rediscover:
                Interlocked.Exchange(ref _rediscover, 1);
                _wake.Writer.TryWrite(true);
                break;
            case MqttRequest.Snapshot:
                _snapshotRequests.Writer.TryWrite(true);
                break;
        }
    }

    private async Task RunSnapshotsAsync(CancellationToken stoppingToken)
    {
        var interval = _options.SnapshotInterval;
        var due = _time.GetUtcNow() + interval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    var request = _snapshotRequests.Reader.WaitToReadAsync(wait.Token).AsTask();
                    var timer = interval > TimeSpan.Zero
                        ? Task.Delay(Max(due - _time.GetUtcNow(), TimeSpan.Zero), _time, wait.Token)
                        : Task.Delay(Timeout.Infinite, wait.Token);
                    await Task.WhenAny(request, timer);
                    await wait.CancelAsync();
                    stoppingToken.ThrowIfCancellationRequested();
                }

                _snapshotRequests.Reader.TryRead(out _);
                if (interval > TimeSpan.Zero && _time.GetUtcNow() >= due)
                {
                    due = _time.GetUtcNow() + interval;
                }

                await PublishSnapshotAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is MqttCommunicationException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection was replaced while a snapshot was going out; the next one uses the new one.
                LogSnapshotFailed(_logger, ex.Message);
            }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>One fresh frame to the camera's image topic (retained, so Home Assistant shows it after a restart).</summary>
    private async Task PublishSnapshotAsync(CancellationToken cancellationToken)
    {
        if (_connected is not { } client)
        {
            return; // a snapshot is only worth sending now; the next one follows the reconnect
        }

        var frame = await _snapshots.GetFreshAsync(cancellationToken);
        if (frame is null)
        {
            LogNoSnapshot(_logger);
            return;
        }

        try
        {
            // The frame's pooled buffer is sent as it is (no copy) and released when the publish has been written.
            await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(_topics.CameraImage)
                .WithPayloadSegment(frame.Jpeg)
                .WithRetainFlag()
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce)
                .Build(), cancellationToken);
        }
        catch (MqttCommunicationException ex)
        {
            LogSnapshotFailed(_logger, ex.Message);
        }
        finally
        {
            frame.Release();
        }
    }

    /// <summary>
    /// Readings every <see cref="MqttOptions.StatusInterval"/>; inputs re-read every second, since a pin that reports
    /// only rising edges (a PIR) never says when it went quiet.
    /// </summary>
    private async Task RunStatesAsync(CancellationToken stoppingToken)
    {
        var nextReadings = _time.GetUtcNow() + _options.StatusInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(InputPollInterval, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var pin in _pins.Values.Where(p => p.Role != MqttPinRole.Output))
            {
                if (_hardware.Read(pin.Name) is { } on)
                {
                    bool changed;
                    lock (_lock)
                    {
                        changed = !_lastInput.TryGetValue(pin.Name, out var last) || last != on;
                    }

                    if (changed)
                    {
                        QueuePinState(pin, on);
                        _wake.Writer.TryWrite(true);
                    }
                }
            }

            if (_time.GetUtcNow() >= nextReadings)
            {
                nextReadings = _time.GetUtcNow() + _options.StatusInterval;
                QueueReadings();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: connected to {Host}:{Port} (TLS {Tls}); publishing discovery and states")]
    private static partial void LogConnected(ILogger logger, string host, int port, bool tls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: connection to {Host} lost; reconnecting")]
    private static partial void LogLost(ILogger logger, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: cannot connect to {Host}:{Port}: {Reason}; retrying")]
    private static partial void LogConnectFailed(ILogger logger, string host, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: {Count} queued states were dropped so far while the broker was unreachable (Mqtt:QueueCapacity)")]
    private static partial void LogDropped(ILogger logger, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: Home Assistant came online; publishing discovery again")]
    private static partial void LogRediscovery(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: no camera frame for the snapshot")]
    private static partial void LogNoSnapshot(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: snapshot not sent: {Reason}")]
    private static partial void LogSnapshotFailed(ILogger logger, string reason);
}
