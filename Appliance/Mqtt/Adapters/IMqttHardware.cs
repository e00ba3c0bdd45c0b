namespace Appliance.Mqtt.Adapters;

/// <summary>
/// What the MQTT bridge needs from the GPIO layer, kept this small so that a new GPIO layer needs only a new adapter
/// (today <see cref="GpioServiceAdapter"/> over the existing GPIO service).
/// </summary>
internal interface IMqttHardware
{
    /// <summary>The configured pins that are open, by name.</summary>
    IReadOnlyList<MqttPin> Pins { get; }

    /// <summary>A pin's logical value (on, pressed), or null when it cannot be read.</summary>
    bool? Read(string name);

    /// <summary>Switches an output through the same service as the web and WeCom; <paramref name="who"/> goes into its log.</summary>
    void Switch(string name, MqttSwitchCommand command, string who);

    /// <summary>A pin changed: an output switched (value read afresh) or an input edge (true: became active). Must not block.</summary>
    event Action<string, bool>? Changed;
}

internal enum MqttSwitchCommand
{
    On,
    Off,
    Pulse,
}

/// <summary>What a pin is for, which decides its Home Assistant entities.</summary>
internal enum MqttPinRole
{
    /// <summary>A relay, light, door strike: a switch and a pulse button.</summary>
    Output,

    /// <summary>A PIR: a binary_sensor of device class motion; an activation publishes a snapshot.</summary>
    Motion,

    /// <summary>A doorbell button: a binary_sensor and an event entity (doorbell); a press publishes a snapshot.</summary>
    Doorbell,

    /// <summary>Any other input (a door contact, a switch): a plain binary_sensor.</summary>
    Input,
}

internal sealed record MqttPin(string Name, MqttPinRole Role);
