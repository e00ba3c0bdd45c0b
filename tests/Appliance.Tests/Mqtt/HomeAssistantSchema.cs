using System.Text.Json.Nodes;

namespace Appliance.Tests.Mqtt;

/// <summary>
/// The discovery keys Home Assistant's MQTT documentation lists for each entity type (full names; the appliance does
/// not use abbreviations), written out here so a payload with a key HA does not know, or without one it requires,
/// fails. Sources: home-assistant.io/integrations/{camera,switch,button,binary_sensor,event,sensor}.mqtt and
/// /integrations/mqtt (device, availability).
/// </summary>
internal static class HomeAssistantSchema
{
    private static readonly string[] EntityCommon =
    [
        "availability", "availability_mode", "availability_template", "availability_topic", "device", "enabled_by_default",
        "encoding", "entity_category", "entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name",
        "object_id", "default_entity_id", "payload_available", "payload_not_available", "platform", "unique_id",
    ];

    public static readonly IReadOnlyDictionary<string, (string[] Required, string[] Allowed)> Components = new Dictionary<string, (string[], string[])>
    {
        ["camera"] = (["topic"], [.. EntityCommon, "topic", "image_encoding"]),
        ["switch"] = (["command_topic"], [.. EntityCommon, "command_template", "command_topic", "device_class", "optimistic", "payload_off",
            "payload_on", "qos", "retain", "state_off", "state_on", "state_topic", "value_template"]),
        ["button"] = (["command_topic"], [.. EntityCommon, "command_template", "command_topic", "device_class", "payload_press", "qos", "retain"]),
        ["binary_sensor"] = (["state_topic"], [.. EntityCommon, "device_class", "expire_after", "force_update", "off_delay", "payload_off",
            "payload_on", "qos", "state_topic", "value_template"]),
        ["event"] = (["state_topic", "event_types"], [.. EntityCommon, "device_class", "event_types", "qos", "state_topic", "value_template"]),
        ["sensor"] = (["state_topic"], [.. EntityCommon, "device_class", "expire_after", "force_update", "last_reset_value_template", "options",
            "suggested_display_precision", "qos", "state_class", "state_topic", "unit_of_measurement", "value_template"]),
    };

    public static readonly string[] DeviceKeys =
    [
        "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id", "name", "serial_number",
        "suggested_area", "sw_version", "via_device",
    ];

    /// <summary>Device classes HA accepts per component (the subset a validator needs for what the appliance sends).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> DeviceClasses = new Dictionary<string, string[]>
    {
        ["switch"] = ["outlet", "switch"],
        ["button"] = ["identify", "restart", "update"],
        ["event"] = ["button", "doorbell", "motion"],
        ["binary_sensor"] = ["battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
            "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem", "running",
            "safety", "smoke", "sound", "tamper", "update", "vibration", "window"],
        ["sensor"] = ["apparent_power", "aqi", "atmospheric_pressure", "battery", "carbon_dioxide", "current", "data_rate", "data_size",
            "date", "distance", "duration", "energy", "frequency", "humidity", "illuminance", "irradiance", "moisture", "monetary",
            "pressure", "power", "signal_strength", "speed", "temperature", "timestamp", "voltage", "volume", "weight", "wind_speed"],
    };

    /// <summary>Units HA expects for a sensor's device class (those the appliance uses).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> SensorUnits = new Dictionary<string, string[]>
    {
        ["temperature"] = ["°C", "°F", "K"],
        ["humidity"] = ["%"],
        ["atmospheric_pressure"] = ["cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"],
        ["duration"] = ["d", "h", "min", "s", "ms"],
    };

    /// <summary>Every problem with one discovery payload; empty when Home Assistant would take it.</summary>
    public static List<string> Check(string component, JsonObject config)
    {
        var problems = new List<string>();
        if (!Components.TryGetValue(component, out var schema))
        {
            return [$"unknown component {component}"];
        }

        problems.AddRange(config.Select(p => p.Key).Where(k => !schema.Allowed.Contains(k)).Select(k => $"{component}: key '{k}' is not in HA's schema"));
        problems.AddRange(schema.Required.Where(k => config[k] is null).Select(k => $"{component}: required key '{k}' missing"));
        if (config["device"] is not JsonObject device)
        {
            problems.Add($"{component}: no device");
        }
        else
        {
            problems.AddRange(device.Select(p => p.Key).Where(k => !DeviceKeys.Contains(k)).Select(k => $"device key '{k}' is not in HA's schema"));
            if (device["identifiers"] is not JsonArray { Count: > 0 })
            {
                problems.Add("device without identifiers");
            }
        }

        if ((string?)config["device_class"] is { } deviceClass && !(DeviceClasses.TryGetValue(component, out var classes) && classes.Contains(deviceClass)))
        {
            problems.Add($"{component}: device_class '{deviceClass}' is not one HA knows");
        }

        if (component == "sensor")
        {
            if ((string?)config["state_class"] is { } stateClass && stateClass is not ("measurement" or "total" or "total_increasing"))
            {
                problems.Add($"sensor: state_class '{stateClass}'");
            }

            if ((string?)config["device_class"] is { } sensorClass && SensorUnits.TryGetValue(sensorClass, out var units)
                && !units.Contains((string?)config["unit_of_measurement"]))
            {
                problems.Add($"sensor {sensorClass}: unit '{config["unit_of_measurement"]}'");
            }
        }

        if ((string?)config["entity_category"] is { } category && category is not ("config" or "diagnostic"))
        {
            problems.Add($"entity_category '{category}'");
        }

        if (config["qos"] is { } qos && (int)qos is < 0 or > 2)
        {
            problems.Add("qos");
        }

        return problems;
    }
}
