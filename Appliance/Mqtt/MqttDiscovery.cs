using System.Text.Json.Nodes;
using Appliance.Mqtt.Adapters;

namespace Appliance.Mqtt;

/// <summary>
/// Home Assistant MQTT discovery configs for the appliance as one device: its camera, a switch and a pulse button per
/// output, a snapshot button, a binary_sensor per input (and an event entity per doorbell), a sensor per reading.
/// unique_ids are the node id, the component and the pin or reading, so they stay the same across restarts.
/// </summary>
internal static class MqttDiscovery
{
    /// <summary>The camera motion binary_sensor's object id (a GPIO pin may not take this name while motion detection is on).</summary>
    public const string CameraMotionObject = "camera_motion";

    /// <summary>Discovery topic → config payload for every entity.</summary>
    public static IReadOnlyDictionary<string, JsonObject> Build(MqttOptions options, MqttTopics topics, IReadOnlyList<MqttPin> pins, IReadOnlyList<MqttSensor> sensors)
    {
        var device = new JsonObject
        {
            ["identifiers"] = new JsonArray(options.NodeId),
            ["name"] = options.DeviceName,
            ["manufacturer"] = "Appliance",
            ["model"] = "Raspberry Pi camera appliance",
            ["sw_version"] = typeof(MqttDiscovery).Assembly.GetName().Version?.ToString(),
        };
        if (options.ConfigurationUrl.Length > 0)
        {
            device["configuration_url"] = options.ConfigurationUrl;
        }

        var configs = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        void Add(string component, string objectId, string name, JsonObject config)
        {
            config["name"] = name;
            config["unique_id"] = $"{options.NodeId}_{component}_{objectId}";
            config["availability_topic"] = topics.Availability;
            config["payload_available"] = MqttTopics.Online;
            config["payload_not_available"] = MqttTopics.Offline;
            config["device"] = device.DeepClone();
            configs[topics.DiscoveryConfig(component, objectId)] = config;
        }

        Add("camera", "camera", "Camera", new JsonObject { ["topic"] = topics.CameraImage });
        if (options.CameraMotion)
        {
            // Retained ON/OFF: ON when the motion service starts an event, OFF when it ends it (Motion:QuietSeconds
            // after the last moving frame), so Home Assistant needs no off_delay of its own.
            Add("binary_sensor", CameraMotionObject, "Camera motion", new JsonObject
            {
                ["state_topic"] = topics.CameraMotionState,
                ["payload_on"] = MqttTopics.On,
                ["payload_off"] = MqttTopics.Off,
                ["device_class"] = "motion",
                ["qos"] = 1,
            });
        }

        Add("button", "snapshot", "Take snapshot", new JsonObject
        {
            ["command_topic"] = topics.SnapshotCommand,
            ["payload_press"] = MqttTopics.Press,
            ["qos"] = 1,
            ["icon"] = "mdi:camera",
        });
        foreach (var pin in pins)
        {
            switch (pin.Role)
            {
                case MqttPinRole.Output:
                    Add("switch", pin.Name, pin.Name, new JsonObject
                    {
                        ["command_topic"] = topics.SwitchCommand(pin.Name),
                        ["state_topic"] = topics.SwitchState(pin.Name),
                        ["payload_on"] = MqttTopics.On,
                        ["payload_off"] = MqttTopics.Off,
                        ["qos"] = 1,
                        ["device_class"] = "switch",
                    });
                    Add("button", $"{pin.Name}_pulse", $"{pin.Name} pulse", new JsonObject
                    {
                        ["command_topic"] = topics.PulseCommand(pin.Name),
                        ["payload_press"] = MqttTopics.Press,
                        ["qos"] = 1,
                    });
                    break;
                default:
                    var sensor = new JsonObject
                    {
                        ["state_topic"] = topics.InputState(pin.Name),
                        ["payload_on"] = MqttTopics.On,
                        ["payload_off"] = MqttTopics.Off,
                        ["qos"] = 1,
                    };
                    if (pin.Role == MqttPinRole.Motion)
                    {
                        sensor["device_class"] = "motion";
                    }

                    Add("binary_sensor", pin.Name, pin.Name, sensor);
                    if (pin.Role == MqttPinRole.Doorbell)
                    {
                        Add("event", pin.Name, $"{pin.Name} press", new JsonObject
                        {
                            ["state_topic"] = topics.PressEvent(pin.Name),
                            ["event_types"] = new JsonArray("press"),
                            ["device_class"] = "doorbell",
                            ["qos"] = 1,
                        });
                    }

                    break;
            }
        }

        foreach (var reading in sensors)
        {
            var config = new JsonObject { ["state_topic"] = topics.SensorState(reading.Key), ["qos"] = 1 };
            if (reading.DeviceClass is { } deviceClass)
            {
                config["device_class"] = deviceClass;
            }

            if (reading.Unit is { } unit)
            {
                config["unit_of_measurement"] = unit;
            }

            if (reading.StateClass is { } stateClass)
            {
                config["state_class"] = stateClass;
            }

            if (reading.Diagnostic)
            {
                config["entity_category"] = "diagnostic";
            }

            Add("sensor", reading.Key, reading.Name, config);
        }

        return configs;
    }

    /// <summary>The event payload of a press.</summary>
    public static string PressPayload => new JsonObject { ["event_type"] = "press" }.ToJsonString();
}
