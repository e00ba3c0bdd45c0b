using System.Runtime.CompilerServices;
using Appliance.Capture;
using Camera;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// Switches outputs (on, off, toggle, pulse) and turns input presses into snapshot/alert deliveries with a per-pin
/// cooldown. Presses are consumed from the lines' channel on an async loop, never on the kernel event thread.
/// </summary>
internal sealed partial class GpioService : BackgroundService, IGpioService
{
    private const int MaxEvents = 50;
    private readonly GpioLines _lines;
    private readonly SnapshotService _snapshots;
    private readonly IMotionAlertSink _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (DateTimeOffset At, string Who)> _changes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastAction = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ITimer> _pulses = new(StringComparer.Ordinal);
    private readonly Queue<GpioEventRecord> _events = new();

    // Each alert waiting for WeCom holds its camera frame; with no cooldown a chattering sensor during an outage (resends
    // for minutes) would hold one per press. Past this many, a press waits for a slot (its snapshot is then later).
    private readonly SemaphoreSlim _alertSlots = new(MaxAlertsInFlight);

    /// <summary>Alerts (each holding its snapshot) that may wait for WeCom at once.</summary>
    internal const int MaxAlertsInFlight = 8;

    private readonly Appliance.Events.IEventRecorder? _timeline;

    public GpioService(
        GpioLines lines, SnapshotService snapshots, IMotionAlertSink sink, TimeProvider time, ILogger<GpioService> logger,
        Appliance.Events.IEventRecorder? timeline = null)
    {
        _timeline = timeline;
        _lines = lines;
        _snapshots = snapshots;
        _sink = sink;
        _time = time;
        _logger = logger;
        LogChip(_logger, lines.Driver.Description, lines.Pins.Count);
    }

    internal GpioLines Lines => _lines;

    /// <summary>An output was switched (by anyone, or a pulse ended); raised outside the lock, must not block.</summary>
    internal event Action<string>? OutputChanged;

    /// <summary>An input edge was seen (true: became active); raised on the edge loop, must not block.</summary>
    internal event Action<string, bool>? InputEdge;

    public IReadOnlyList<GpioEventRecord> RecentEvents
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<GpioPinState> GetPins() =>
        [.. _lines.Pins.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(State)];

    public GpioPinState Switch(string name, GpioCommand command, string who)
    {
        if (!_lines.Pins.TryGetValue(name, out var pin))
        {
            throw new KeyNotFoundException($"No GPIO pin named '{name}'.");
        }

        var output = pin.IsOutput ? pin : throw new InvalidOperationException($"GPIO pin '{name}' is an input; only outputs can be switched.");
        bool switchedOn;
        DateTimeOffset at;
        lock (_lock)
        {
            if (_pulses.Remove(name, out var pending))
            {
                pending.Dispose();
            }

            var value = command switch
            {
                GpioCommand.On or GpioCommand.Pulse => true,
                GpioCommand.Off => false,
                _ => !output.Read(),
            };
            output.Write(value);
            switchedOn = value;
            at = _time.GetUtcNow();
            _changes[name] = (at, who);
            if (command == GpioCommand.Pulse)
            {
                // The callback gets its own timer: one already dispatched when a later command replaced it (a real
                // timer still runs it after Dispose) must not end the newer pulse. _lock is held until the box is set.
                var own = new StrongBox<ITimer>();
                own.Value = _time.CreateTimer(_ => EndPulse(name, output, own), null, TimeSpan.FromMilliseconds(pin.Options.PulseMs), Timeout.InfiniteTimeSpan);
                _pulses[name] = own.Value;
            }

            LogSwitched(_logger, name, command, value, who);
        }

        OutputChanged?.Invoke(name);

        // Every switch goes through here (WeCom, the web page, MQTT), so this is where the timeline learns who did it.
        _timeline?.Record("switch", at, $"{name}:{(command == GpioCommand.Pulse ? "pulse" : switchedOn ? "on" : "off")}", who);
        return State(pin);
    }

    /// <summary>
    /// Runs on a timer thread, so it never throws (an exception there ends the process). Does nothing unless
    /// <paramref name="own"/> is still the pin's pending pulse.
    /// </summary>
    private void EndPulse(string name, GpioLines.Pin output, StrongBox<ITimer> own)
    {
        lock (_lock)
        {
            if (!_pulses.TryGetValue(name, out var timer) || !ReferenceEquals(timer, own.Value))
            {
                return;
            }

            _pulses.Remove(name);
            timer.Dispose();
            try
            {
                output.Write(false);
            }
            catch (GpioException ex)
            {
                LogPulseEndFailed(_logger, name, ex);
                return;
            }

            _changes[name] = (_time.GetUtcNow(), "pulse end");
            LogPulseEnded(_logger, name);
        }

        OutputChanged?.Invoke(name);
    }

    private GpioPinState State(GpioLines.Pin pin)
    {
        bool value;
        try
        {
            value = pin.Read();
        }
        catch (GpioException)
        {
            value = false;
        }

        lock (_lock)
        {
            var change = _changes.TryGetValue(pin.Name, out var c) ? c : ((DateTimeOffset At, string Who)?)null;
            return new GpioPinState(pin.Name, pin.Options.Line, pin.Options.Mode, value, pin.Options.ActiveLow, change?.At, change?.Who);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (name, edge) in _lines.Edges.Reader.ReadAllAsync(stoppingToken))
            {
                await HandleEdgeAsync(name, edge, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Records an edge; a press of a pin with OnPress takes a snapshot and hands it to the sink, unless cooling down.</summary>
    internal async Task HandleEdgeAsync(string name, GpioEdgeEvent edge, CancellationToken cancellationToken)
    {
        var options = _lines.Pins[name].Options;
        InputEdge?.Invoke(name, edge.Rising);
        var now = _time.GetUtcNow();
        var action = edge.Rising ? options.OnPress : GpioPressAction.None;
        if (action == GpioPressAction.None)
        {
            Record(new GpioEventRecord(name, now, edge.Rising, action, edge.Rising ? "pressed" : "released"));
            return;
        }

        lock (_lock)
        {
            if (_lastAction.TryGetValue(name, out var last) && now - last < TimeSpan.FromSeconds(options.CooldownSeconds))
            {
                Record(new GpioEventRecord(name, now, true, action, $"cooldown ({options.CooldownSeconds - (int)(now - last).TotalSeconds} s left)"));
                return;
            }

            _lastAction[name] = now;
        }

        LogPress(_logger, name, action);
        await _alertSlots.WaitAsync(cancellationToken);
        Frame? frame;
        try
        {
            frame = await _snapshots.GetFreshAsync(cancellationToken);
        }
        catch
        {
            _alertSlots.Release();
            throw;
        }

        // Not awaited: the alert may wait for WeCom (one per member per WeCom:AlertInterval, resends while the relay is
        // unreachable), and the next press must not wait behind it, or its snapshot would be taken that much later.
        _ = SendAlertAsync(new GpioAlert(name, action, now, frame), cancellationToken);
    }

    private async Task SendAlertAsync(GpioAlert alert, CancellationToken cancellationToken)
    {
        try
        {
            await _sink.SendAsync(alert, cancellationToken);
            Record(new GpioEventRecord(alert.Pin, alert.At, true, alert.Action, alert.Snapshot is null ? "sent without snapshot (no camera frame)" : "sent with snapshot"));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            LogSinkFailed(_logger, alert.Pin, ex);
            Record(new GpioEventRecord(alert.Pin, alert.At, true, alert.Action, $"failed: {ex.Message}"));
        }
        finally
        {
            alert.Snapshot?.Release();
            _alertSlots.Release();
        }
    }

    private void Record(GpioEventRecord record)
    {
        lock (_lock)
        {
            _events.Enqueue(record);
            while (_events.Count > MaxEvents)
            {
                _events.Dequeue();
            }
        }
    }

    public override void Dispose()
    {
        lock (_lock)
        {
            foreach (var timer in _pulses.Values)
            {
                timer.Dispose();
            }

            _pulses.Clear();
        }

        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GPIO: {Chip}, {Count} named pins")]
    private static partial void LogChip(ILogger logger, string chip, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "GPIO {Pin} {Command}: on={Value} by {Who}")]
    private static partial void LogSwitched(ILogger logger, string pin, GpioCommand command, bool value, string who);

    [LoggerMessage(Level = LogLevel.Information, Message = "GPIO {Pin} pulse ended: off")]
    private static partial void LogPulseEnded(ILogger logger, string pin);

    [LoggerMessage(Level = LogLevel.Error, Message = "GPIO {Pin} pulse end: the output could not be switched off")]
    private static partial void LogPulseEndFailed(ILogger logger, string pin, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "GPIO {Pin} pressed: {Action}")]
    private static partial void LogPress(ILogger logger, string pin, GpioPressAction action);

    [LoggerMessage(Level = LogLevel.Error, Message = "GPIO {Pin}: the alert sink failed")]
    private static partial void LogSinkFailed(ILogger logger, string pin, Exception exception);
}
