namespace Appliance.Hardware.Gpio;

/// <summary>
/// An in-memory chip for machines without GPIO (the embedded default) and for tests: outputs keep their value, inputs
/// are driven by <see cref="SetInput"/>, which reports edges like the kernel would (active-low applied, debounce not
/// simulated). Requests of a line already requested fail with EBUSY like the real device.
/// </summary>
internal sealed class SimulatedGpioChip(int lineCount = 64) : IGpioChip
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, Line> _lines = [];

    public string Description => $"simulated [{lineCount} lines]";

    public int LineCount => lineCount;

    /// <summary>Physical levels of outputs, as a relay would see them (active-low inverted).</summary>
    public bool? PhysicalLevel(int line)
    {
        lock (_lock)
        {
            return _lines.TryGetValue(line, out var l) ? l.Physical : null;
        }
    }

    /// <summary>Drives an input's physical level from the "hardware" side.</summary>
    public void SetInput(int line, bool physical)
    {
        Line? l;
        lock (_lock)
        {
            if (!_lines.TryGetValue(line, out l) || l.OnEdge is null)
            {
                throw new InvalidOperationException($"line {line} is not a requested input");
            }

            if (l.Physical == physical)
            {
                return;
            }

            l.Physical = physical;
            l.Seqno++;
        }

        var rising = physical != l.ActiveLow;
        if ((rising && l.Edge is GpioEdge.Rising or GpioEdge.Both) || (!rising && l.Edge is GpioEdge.Falling or GpioEdge.Both))
        {
            l.OnEdge(new GpioEdgeEvent(line, rising, (ulong)DateTime.UtcNow.Ticks * 100, l.Seqno, l.Seqno));
        }
    }

    public IGpioOutput RequestOutput(string consumer, int line, bool activeLow, bool initialOn)
    {
        var l = Add(consumer, line, activeLow, null, GpioEdge.None);
        l.Physical = initialOn != activeLow;
        return new Output(this, l);
    }

    public IGpioInput RequestInput(string consumer, int line, bool activeLow, GpioBias bias, int debounceMs, GpioEdge edge, Action<GpioEdgeEvent> onEdge)
    {
        var l = Add(consumer, line, activeLow, onEdge, edge);
        l.Physical = bias != GpioBias.PullUp ? false : true;
        return new Input(this, l);
    }

    private Line Add(string consumer, int line, bool activeLow, Action<GpioEdgeEvent>? onEdge, GpioEdge edge)
    {
        lock (_lock)
        {
            if (line < 0 || line >= lineCount)
            {
                throw new GpioException($"line {line} does not exist on the simulated chip (it has lines 0-{lineCount - 1}).");
            }

            if (_lines.TryGetValue(line, out var existing))
            {
                throw new GpioException($"line {line} is busy (in use by '{existing.Consumer}') on the simulated chip.") { Errno = 16 };
            }

            var l = new Line(line, consumer, activeLow, onEdge, edge);
            _lines.Add(line, l);
            return l;
        }
    }

    private void Remove(Line line)
    {
        lock (_lock)
        {
            _lines.Remove(line.Offset);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _lines.Clear();
        }
    }

    private sealed class Line(int offset, string consumer, bool activeLow, Action<GpioEdgeEvent>? onEdge, GpioEdge edge)
    {
        public int Offset => offset;

        public string Consumer => consumer;

        public bool ActiveLow => activeLow;

        public Action<GpioEdgeEvent>? OnEdge => onEdge;

        public GpioEdge Edge => edge;

        public bool Physical { get; set; }

        public uint Seqno { get; set; }
    }

    private sealed class Output(SimulatedGpioChip chip, Line line) : IGpioOutput
    {
        public bool Value
        {
            get => line.Physical != line.ActiveLow;
            set
            {
                lock (chip._lock)
                {
                    line.Physical = value != line.ActiveLow;
                }
            }
        }

        public void Dispose() => chip.Remove(line);
    }

    private sealed class Input(SimulatedGpioChip chip, Line line) : IGpioInput
    {
        public bool Read()
        {
            lock (chip._lock)
            {
                return line.Physical != line.ActiveLow;
            }
        }

        public void Dispose() => chip.Remove(line);
    }
}
