namespace Appliance.Hardware.Gpio;

/// <summary>
/// A GPIO chip the service requests lines from: the kernel's character device or the simulated chip. Requests stay
/// open until disposed (a line's state holds only while its request is open).
/// </summary>
internal interface IGpioChip : IDisposable
{
    /// <summary>e.g. "gpiochip0 [pinctrl-bcm2711] 58 lines".</summary>
    string Description { get; }

    int LineCount { get; }

    /// <summary>Requests an output with its initial (logical) value set at request time. Throws <see cref="GpioException"/>.</summary>
    IGpioOutput RequestOutput(string consumer, int line, bool activeLow, bool initialOn);

    /// <summary>
    /// Requests an input; edges are delivered to <paramref name="onEdge"/> from the chip's event thread.
    /// Throws <see cref="GpioException"/>.
    /// </summary>
    IGpioInput RequestInput(string consumer, int line, bool activeLow, GpioBias bias, int debounceMs, GpioEdge edge, Action<GpioEdgeEvent> onEdge);
}

internal interface IGpioOutput : IDisposable
{
    /// <summary>The logical value (true = active/on), as last set.</summary>
    bool Value { get; set; }
}

internal interface IGpioInput : IDisposable
{
    /// <summary>Reads the logical value (true = active) now.</summary>
    bool Read();
}

/// <summary>An edge on an input line; <see cref="Rising"/> is in logical terms (active-low already applied by the kernel).</summary>
internal readonly record struct GpioEdgeEvent(int Line, bool Rising, ulong TimestampNanoseconds, uint Seqno, uint LineSeqno);

/// <summary>A line could not be requested or used; the message says which and why.</summary>
public sealed class GpioException : Exception
{
    public GpioException(string message)
        : base(message)
    {
    }

    public GpioException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GpioException()
    {
    }

    /// <summary>The errno behind it, when the kernel refused (16 = EBUSY).</summary>
    public int Errno { get; init; }
}
