using Appliance.WeCom.Alerts;
using Appliance.WeCom.Commands;

namespace Appliance.Hardware.Gpio;

/// <summary>WeCom's 开/关/脉冲 (on/off/pulse) commands switch the configured GPIO outputs, logged with the member's ID.</summary>
internal sealed class GpioOutputSwitch(IGpioService gpio, GpioOptions options) : IOutputSwitch
{
    public bool IsSimulated => options.Chip == GpioOptions.Simulated;

    public IReadOnlyList<string> Names => [.. gpio.GetPins().Where(p => p.Mode == GpioMode.Output).Select(p => p.Name)];

    public string? Find(string name) =>
        Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
        ?? Names.FirstOrDefault(n => AliasesOf(n).Contains(name, StringComparer.OrdinalIgnoreCase));

    public string Label(string name) => AliasesOf(name) is { Length: > 0 } aliases ? $"{name} ({string.Join(", ", aliases)})" : name;

    private string[] AliasesOf(string name) => options.Pins.TryGetValue(name, out var pin) ? pin.Aliases : [];

    public bool? GetState(string name) =>
        gpio.GetPins().FirstOrDefault(p => p.Mode == GpioMode.Output && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.On;

    public Task SetAsync(string name, bool on, string who, CancellationToken cancellationToken)
    {
        gpio.Switch(name, on ? GpioCommand.On : GpioCommand.Off, who);
        return Task.CompletedTask;
    }

    /// <summary>Pulses for the pin's own <c>PulseMs</c> (a door strike's length is a property of the door, not of the message).</summary>
    public Task<TimeSpan> PulseAsync(string name, string who, CancellationToken cancellationToken)
    {
        gpio.Switch(name, GpioCommand.Pulse, who);
        var pulseMs = options.Pins.TryGetValue(name, out var pin) ? pin.PulseMs : new GpioPinOptions().PulseMs;
        return Task.FromResult(TimeSpan.FromMilliseconds(pulseMs));
    }
}

/// <summary>Doorbell and PIR presses go to the family through WeCom's alerts service, with the snapshot.</summary>
internal sealed class WeComMotionAlertSink(IAlertNotifier alerts) : IMotionAlertSink
{
    public Task SendAsync(GpioAlert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var text = alert.Action == GpioPressAction.Alert
            ? $"⚠️ {alert.Pin}: 有动静 motion at {alert.At.ToLocalTime():HH:mm:ss}"
            : $"🔔 {alert.Pin}: 有人按铃 someone is at the door ({alert.At.ToLocalTime():HH:mm:ss})";
        return alerts.NotifyAsync(text, alert.Snapshot, cancellationToken);
    }
}
