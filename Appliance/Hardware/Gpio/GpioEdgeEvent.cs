namespace Appliance.Hardware.Gpio;

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
