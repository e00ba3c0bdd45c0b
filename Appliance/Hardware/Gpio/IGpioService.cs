using Camera;

namespace Appliance.Hardware.Gpio;

/// <summary>The named pins, for the HTTP API, the web page and chat commands ("开/on NAME").</summary>
public interface IGpioService
{
    /// <summary>Every configured pin with its current logical value.</summary>
    IReadOnlyList<GpioPinState> GetPins();

    /// <summary>
    /// Switches an output and logs who did it. Throws <see cref="KeyNotFoundException"/> for an unknown name and
    /// <see cref="InvalidOperationException"/> for an input.
    /// </summary>
    GpioPinState Switch(string name, GpioCommand command, string who);

    /// <summary>The latest input events (newest last), for status.</summary>
    IReadOnlyList<GpioEventRecord> RecentEvents { get; }
}

public enum GpioCommand
{
    On,
    Off,
    Toggle,
    Pulse,
}

public sealed record GpioPinState(string Name, int Line, GpioMode Mode, bool On, bool ActiveLow, DateTimeOffset? ChangedAt, string? ChangedBy);

/// <summary>An input edge and what came of it (snapshot taken, alert sent, cooldown, failure).</summary>
public sealed record GpioEventRecord(string Pin, DateTimeOffset At, bool Pressed, GpioPressAction Action, string Outcome);

/// <summary>
/// Receives button and PIR alerts with their snapshot: the WeCom alerts (which log while WeCom is not configured) push the
/// photo to the household. The frame is only valid during the call (AddReference to keep it).
/// </summary>
public interface IMotionAlertSink
{
    Task SendAsync(GpioAlert alert, CancellationToken cancellationToken);
}

/// <summary>An input press that asked for a snapshot or an alert; <see cref="Snapshot"/> is null when the camera gave none.</summary>
public sealed record GpioAlert(string Pin, GpioPressAction Action, DateTimeOffset At, Frame? Snapshot);
