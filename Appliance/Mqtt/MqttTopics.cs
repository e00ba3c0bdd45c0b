using Appliance.Mqtt.Adapters;

namespace Appliance.Mqtt;

/// <summary>Every topic the bridge uses, from <see cref="MqttOptions.BaseTopic"/> and the discovery prefix.</summary>
internal sealed class MqttTopics(MqttOptions options)
{
    public const string On = "ON";
    public const string Off = "OFF";
    public const string Press = "PRESS";
    public const string Online = "online";
    public const string Offline = "offline";

    private readonly string _base = options.BaseTopic;

    public string Availability => $"{_base}/availability";

    public string CameraImage => $"{_base}/camera/image";

    public string SwitchState(string pin) => $"{_base}/switch/{pin}/state";

    public string SwitchCommand(string pin) => $"{_base}/switch/{pin}/set";

    /// <summary>Subscribed: every output's switch command.</summary>
    public string SwitchCommandFilter => $"{_base}/switch/+/set";

    public string PulseCommand(string pin) => $"{_base}/button/{pin}/pulse";

    public string SnapshotCommand => $"{_base}/button/snapshot/press";

    /// <summary>Subscribed: every button (pulses and the snapshot).</summary>
    public string ButtonCommandFilter => $"{_base}/button/+/+";

    /// <summary>The camera's motion (from the picture): ON while an event lasts.</summary>
    public string CameraMotionState => $"{_base}/camera/motion";

    public string InputState(string pin) => $"{_base}/binary_sensor/{pin}/state";

    public string PressEvent(string pin) => $"{_base}/event/{pin}";

    public string SensorState(string key) => $"{_base}/sensor/{key}/state";

    /// <summary>Home Assistant announces itself here (online/offline).</summary>
    public string HomeAssistantStatus => $"{options.DiscoveryPrefix}/status";

    public string DiscoveryConfig(string component, string objectId) => $"{options.DiscoveryPrefix}/{component}/{options.NodeId}/{objectId}/config";

    /// <summary>Subscribed: this device's retained discovery configs, to empty those of entities that are gone.</summary>
    public string OwnDiscoveryFilter => $"{options.DiscoveryPrefix}/+/{options.NodeId}/+/config";

    /// <summary>The state topic and retained payload of a pin's value.</summary>
    public string PinState(MqttPin pin) => pin.Role == MqttPinRole.Output ? SwitchState(pin.Name) : InputState(pin.Name);
}
