using System.Device.Gpio;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// The appliance's <see cref="GpioDriver"/>s (the kernel's character device and the simulated chip): everything above
/// them uses <see cref="GpioController"/>, and so can any Iot.Device.Bindings part that takes one. What the public API
/// lacks is here: per-line settings (consumer label, active-low, bias including "disabled", kernel debounce, applied
/// when the pin's mode is next set) and edge handlers that get the kernel's timestamp and sequence numbers.
/// Values are logical: with <see cref="GpioLineSettings.ActiveLow"/> the low level reads as High.
/// Subclasses implement the line requests; this class keeps each line's wanted configuration and hands events to the
/// controller's callbacks, <see cref="WaitForEvent"/> and the edge handlers.
/// </summary>
internal abstract class ApplianceGpioDriver : GpioDriver
{
    private readonly Dictionary<int, LineState> _lines = [];

    /// <summary>Guards the line table; subclasses hold it while they request or reconfigure a line.</summary>
    protected Lock SyncRoot { get; } = new();

    /// <summary>e.g. "gpiochip0 [pinctrl-bcm2711] 58 lines (/dev/gpiochip0)".</summary>
    public abstract string Description { get; }

    /// <summary>How many lines the chip has (lines are numbered 0 to LineCount-1, as the kernel numbers them).</summary>
    public int LineCount => PinCount;

    /// <summary>Settings the public API lacks; they take effect when the pin is opened or its mode is set.</summary>
    public void ConfigureLine(int line, GpioLineSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        lock (SyncRoot)
        {
            if (_lines.TryGetValue(line, out var state))
            {
                state.Settings = settings;
                if (state.Mode is not null)
                {
                    ApplyLocked(line, state);
                }
            }
            else
            {
                _pending[line] = settings;
            }
        }
    }

    private readonly Dictionary<int, GpioLineSettings> _pending = [];

    /// <summary>
    /// Edges of an opened input with the kernel's timestamp and sequence numbers (to see dropped events), delivered on
    /// the driver's event thread; <c>null</c> removes the handler. Rising is in logical terms.
    /// </summary>
    public void SetEdgeHandler(int line, GpioEdge edge, Action<GpioEdgeEvent>? handler)
    {
        lock (SyncRoot)
        {
            var state = Open(line);
            state.Handler = handler is null || edge == GpioEdge.None ? null : (edge, handler);
            ApplyLocked(line, state);
        }
    }

    /// <summary>Requests, reconfigures (same request kept) the line as <paramref name="request"/> says. Throws <see cref="GpioException"/>.</summary>
    protected abstract void ApplyRequest(int line, GpioLineRequestSettings request);

    /// <summary>Releases the line's request (it goes back to the kernel as it is).</summary>
    protected abstract void ReleaseRequest(int line);

    /// <summary>The line's logical value now.</summary>
    protected abstract bool ReadLine(int line);

    /// <summary>Sets an output's logical value.</summary>
    protected abstract void WriteLine(int line, bool value);

    /// <summary>Hands an edge the subclass read to everyone waiting for it; called on the subclass's event thread.</summary>
    protected void Deliver(GpioEdgeEvent edge)
    {
        (GpioEdge Edge, Action<GpioEdgeEvent> Handler)? handler;
        PinChangeEventHandler[] callbacks;
        List<Waiter> waiters = [];
        var type = edge.Rising ? PinEventTypes.Rising : PinEventTypes.Falling;
        lock (SyncRoot)
        {
            if (!_lines.TryGetValue(edge.Line, out var state))
            {
                return;
            }

            handler = state.Handler;
            callbacks = [.. state.Callbacks.Where(c => (c.Types & type) != 0).Select(c => c.Callback)];
            waiters.AddRange(state.Waiters.Where(w => (w.Types & type) != 0));
        }

        if (handler is { } h && Matches(h.Edge, edge.Rising))
        {
            h.Handler(edge);
        }

        foreach (var callback in callbacks)
        {
            callback(this, new PinValueChangedEventArgs(type, edge.Line));
        }

        foreach (var waiter in waiters)
        {
            waiter.Complete(type);
        }
    }

    private static bool Matches(GpioEdge edge, bool rising) =>
        edge == GpioEdge.Both || (rising ? edge == GpioEdge.Rising : edge == GpioEdge.Falling);

    protected override void OpenPin(int pinNumber)
    {
        lock (SyncRoot)
        {
            if (_lines.TryGetValue(pinNumber, out var existing))
            {
                // GpioController opens a pin once; a second controller on the same driver is a second user of the line.
                throw new GpioException($"line {pinNumber} is busy (in use by '{existing.Settings.Consumer}') on {Description}.") { Errno = 16 };
            }

            Open(pinNumber);
        }
    }

    private LineState Open(int line)
    {
        if (line < 0 || line >= PinCount)
        {
            throw new GpioException($"line {line} does not exist on {Description} (it has lines 0-{PinCount - 1}).");
        }

        if (!_lines.TryGetValue(line, out var state))
        {
            state = new LineState(_pending.Remove(line, out var settings) ? settings : new GpioLineSettings());
            _lines.Add(line, state);
        }

        return state;
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (SyncRoot)
        {
            if (_lines.Remove(pinNumber, out var state))
            {
                foreach (var waiter in state.Waiters)
                {
                    waiter.Complete(PinEventTypes.None);
                }

                if (state.Mode is not null)
                {
                    ReleaseRequest(pinNumber);
                }
            }
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (SyncRoot)
        {
            // Switching an output's mode keeps its value (no glitch); a new output starts low (off).
            var state = Open(pinNumber);
            SetPinMode(pinNumber, mode, state.Mode == PinMode.Output && ReadLine(pinNumber) ? PinValue.High : PinValue.Low);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        if (!IsPinModeSupported(pinNumber, mode))
        {
            throw new GpioException($"line {pinNumber}: mode {mode} is not supported on {Description}.");
        }

        lock (SyncRoot)
        {
            var state = Open(pinNumber);
            var previous = (state.Mode, state.Initial);
            state.Mode = mode;
            state.Initial = initialValue == PinValue.High;
            try
            {
                ApplyLocked(pinNumber, state);
            }
            catch
            {
                (state.Mode, state.Initial) = previous;
                throw;
            }
        }
    }

    private void ApplyLocked(int line, LineState state)
    {
        if (state.Mode is not { } mode)
        {
            // Edges were asked for before a mode: the line becomes an input (what GpioController's callers expect).
            state.Mode = mode = PinMode.Input;
        }

        var edges = state.Handler?.Edge ?? GpioEdge.None;
        var types = state.Callbacks.Aggregate(PinEventTypes.None, (all, c) => all | c.Types)
            | state.Waiters.Aggregate(PinEventTypes.None, (all, w) => all | w.Types);
        if (mode != PinMode.Output && types != PinEventTypes.None)
        {
            edges = Combine(edges, types);
        }

        var output = mode == PinMode.Output;
        var bias = mode switch
        {
            PinMode.InputPullUp => GpioBias.PullUp,
            PinMode.InputPullDown => GpioBias.PullDown,
            PinMode.Output => GpioBias.AsIs,
            _ => state.Settings.Bias,
        };
        ApplyRequest(line, new GpioLineRequestSettings(
            state.Settings.Consumer, output, state.Initial, state.Settings.ActiveLow, bias, output ? 0 : state.Settings.DebounceMs, output ? GpioEdge.None : edges));
    }

    private static GpioEdge Combine(GpioEdge edge, PinEventTypes types)
    {
        var rising = edge is GpioEdge.Rising or GpioEdge.Both || (types & PinEventTypes.Rising) != 0;
        var falling = edge is GpioEdge.Falling or GpioEdge.Both || (types & PinEventTypes.Falling) != 0;
        return (rising, falling) switch
        {
            (true, true) => GpioEdge.Both,
            (true, false) => GpioEdge.Rising,
            (false, true) => GpioEdge.Falling,
            _ => GpioEdge.None,
        };
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (SyncRoot)
        {
            return _lines.TryGetValue(pinNumber, out var state) && state.Mode is { } mode
                ? mode
                : throw new InvalidOperationException($"line {pinNumber} has no mode yet.");
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.InputPullUp or PinMode.InputPullDown or PinMode.Output;

    protected override PinValue Read(int pinNumber)
    {
        lock (SyncRoot)
        {
            RequireMode(pinNumber);
            return ReadLine(pinNumber) ? PinValue.High : PinValue.Low;
        }
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        lock (SyncRoot)
        {
            if (RequireMode(pinNumber) != PinMode.Output)
            {
                throw new InvalidOperationException($"line {pinNumber} is an input; only outputs can be written.");
            }

            WriteLine(pinNumber, value == PinValue.High);
        }
    }

    private PinMode RequireMode(int line) =>
        _lines.TryGetValue(line, out var state) && state.Mode is { } mode
            ? mode
            : throw new InvalidOperationException($"line {line} is not open (open it with a mode first).");

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(eventTypes);
        lock (SyncRoot)
        {
            var state = Open(pinNumber);
            state.Waiters.Add(waiter);
            ApplyLocked(pinNumber, state);
        }

        try
        {
            // A blocking wait for the event thread's hand-over; no polling.
            waiter.Done.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = waiter.Done.Result, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            lock (SyncRoot)
            {
                if (_lines.TryGetValue(pinNumber, out var state) && state.Waiters.Remove(waiter))
                {
                    ApplyLocked(pinNumber, state);
                }
            }
        }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (SyncRoot)
        {
            var state = Open(pinNumber);
            state.Callbacks.Add((eventTypes, callback));
            ApplyLocked(pinNumber, state);
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (SyncRoot)
        {
            if (_lines.TryGetValue(pinNumber, out var state) && state.Callbacks.RemoveAll(c => c.Callback == callback) > 0)
            {
                ApplyLocked(pinNumber, state);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (SyncRoot)
            {
                foreach (var line in _lines.Keys.ToList())
                {
                    ClosePin(line);
                }
            }
        }

        base.Dispose(disposing);
    }

    private sealed class LineState(GpioLineSettings settings)
    {
        public GpioLineSettings Settings { get; set; } = settings;

        public PinMode? Mode { get; set; }

        public bool Initial { get; set; }

        public (GpioEdge Edge, Action<GpioEdgeEvent> Handler)? Handler { get; set; }

        public List<(PinEventTypes Types, PinChangeEventHandler Callback)> Callbacks { get; } = [];

        public List<Waiter> Waiters { get; } = [];
    }

    private sealed class Waiter(PinEventTypes types)
    {
        public PinEventTypes Types => types;

        private readonly TaskCompletionSource<PinEventTypes> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<PinEventTypes> Done => _done.Task;

        public void Complete(PinEventTypes type) => _done.TrySetResult(type);
    }
}

/// <summary>What the public GPIO API cannot say about a line; given to <see cref="ApplianceGpioDriver.ConfigureLine"/>.</summary>
internal sealed record GpioLineSettings(string Consumer = "appliance", bool ActiveLow = false, GpioBias Bias = GpioBias.AsIs, int DebounceMs = 0);

/// <summary>A line's complete request, as the driver base class computed it from mode, settings and listeners.</summary>
internal readonly record struct GpioLineRequestSettings(string Consumer, bool Output, bool InitialValue, bool ActiveLow, GpioBias Bias, int DebounceMs, GpioEdge Edges);
