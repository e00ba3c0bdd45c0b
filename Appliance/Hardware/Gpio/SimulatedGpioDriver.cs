namespace Appliance.Hardware.Gpio;

/// <summary>
/// An in-memory chip for machines without GPIO (the embedded default) and for tests, behind the same
/// <see cref="System.Device.Gpio.GpioController"/> as the real one: outputs keep their value, inputs are driven by
/// <see cref="SetInput"/>, which reports edges like the kernel would (active-low applied, debounce not simulated).
/// Not sealed: tests subclass it to inject faults.
/// </summary>
internal class SimulatedGpioDriver(int lineCount = 64) : ApplianceGpioDriver
{
    private readonly Dictionary<int, Line> _lines = [];

    public override string Description => $"the simulated chip [{lineCount} lines]";

    protected override int PinCount => lineCount;

    /// <summary>Physical levels of requested lines, as a relay would see them (active-low inverted); null when not requested.</summary>
    public bool? PhysicalLevel(int line)
    {
        lock (SyncRoot)
        {
            return _lines.TryGetValue(line, out var l) ? l.Physical : null;
        }
    }

    /// <summary>Drives an input's physical level from the "hardware" side.</summary>
    public void SetInput(int line, bool physical)
    {
        GpioEdgeEvent edge;
        lock (SyncRoot)
        {
            if (!_lines.TryGetValue(line, out var l) || l.Request.Output)
            {
                throw new InvalidOperationException($"line {line} is not a requested input");
            }

            if (l.Physical == physical)
            {
                return;
            }

            l.Physical = physical;
            var rising = physical != l.Request.ActiveLow;
            if (!(rising ? l.Request.Edges is GpioEdge.Rising or GpioEdge.Both : l.Request.Edges is GpioEdge.Falling or GpioEdge.Both))
            {
                return;
            }

            l.Seqno++;
            edge = new GpioEdgeEvent(line, rising, (ulong)DateTime.UtcNow.Ticks * 100, l.Seqno, l.Seqno);
        }

        Deliver(edge);
    }

    protected override void ApplyRequest(int line, GpioLineRequestSettings request)
    {
        if (_lines.TryGetValue(line, out var existing))
        {
            existing.Request = request;
            if (request.Output)
            {
                existing.Physical = request.InitialValue != request.ActiveLow;
            }

            return;
        }

        _lines.Add(line, new Line(request) { Physical = request.Output ? request.InitialValue != request.ActiveLow : request.Bias == GpioBias.PullUp });
    }

    protected override void ReleaseRequest(int line) => _lines.Remove(line);

    protected override bool ReadLine(int line)
    {
        var l = _lines[line];
        return l.Physical != l.Request.ActiveLow;
    }

    protected override void WriteLine(int line, bool value)
    {
        var l = _lines[line];
        l.Physical = value != l.Request.ActiveLow;
    }

    private sealed class Line(GpioLineRequestSettings request)
    {
        public GpioLineRequestSettings Request { get; set; } = request;

        public bool Physical { get; set; }

        public uint Seqno { get; set; }
    }
}
