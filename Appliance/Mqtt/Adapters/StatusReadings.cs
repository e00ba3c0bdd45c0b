using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Hardware.Sensors;
using Appliance.Status;

namespace Appliance.Mqtt.Adapters;

/// <summary>
/// The readings Home Assistant gets as sensors, taken from the same document as <c>/api/status</c>, so a new sensor
/// layer (or a new diagnostic) reaches MQTT by contributing there; only this adapter knows the document's keys.
/// </summary>
internal interface IMqttReadings
{
    /// <summary>The sensors this appliance has (their discovery), fixed at start.</summary>
    IReadOnlyList<MqttSensor> Sensors { get; }

    /// <summary>Each sensor's current value as its state payload; a sensor without a value is left out.</summary>
    IReadOnlyDictionary<string, string> Read();
}

/// <summary>A sensor entity: <paramref name="Key"/> names its topic and unique_id; null fields are left out of discovery.</summary>
internal sealed record MqttSensor(string Key, string Name, string? DeviceClass, string? Unit, string? StateClass, bool Diagnostic);

/// <remarks>The report is resolved at the first reading: it lists every status contributor, MQTT's own among them.</remarks>
internal sealed class StatusReadings(IServiceProvider services, Bme280Options bme280) : IMqttReadings
{
    public IReadOnlyList<MqttSensor> Sensors { get; } =
    [
        .. bme280.Enabled
            ? new MqttSensor[]
            {
                new("temperature", "Temperature", "temperature", "°C", "measurement", false),
                new("humidity", "Humidity", "humidity", "%", "measurement", false),
                new("pressure", "Pressure", "atmospheric_pressure", "hPa", "measurement", false),
            }
            : [],
        new("fps", "Camera fps", null, "fps", "measurement", true),
        new("viewers", "Viewers", null, null, "measurement", true),
        new("tunnel", "Tunnel", null, null, null, true),
        new("uptime", "Uptime", "duration", "s", "total_increasing", true),
    ];

    public IReadOnlyDictionary<string, string> Read()
    {
        var status = services.GetRequiredService<StatusReport>().Build(includeViewerAddresses: false);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        Put(values, "fps", status["deliveredFps"]);
        Put(values, "viewers", status["viewers"]);
        Put(values, "uptime", status["uptimeSeconds"]);
        Put(values, "tunnel", status["tunnel"]?["state"]);
        if (status["environment"] is JsonObject environment)
        {
            Put(values, "temperature", environment["temperatureC"]);
            Put(values, "humidity", environment["humidityPercent"]);
            Put(values, "pressure", environment["pressureHpa"]);
        }

        return values;
    }

    private static void Put(Dictionary<string, string> values, string key, JsonNode? node)
    {
        if (node is JsonValue value)
        {
            values[key] = value.TryGetValue<double>(out var number) ? number.ToString(CultureInfo.InvariantCulture)
                : value.TryGetValue<int>(out var integer) ? integer.ToString(CultureInfo.InvariantCulture)
                : value.TryGetValue<long>(out var big) ? big.ToString(CultureInfo.InvariantCulture)
                : value.ToString();
        }
    }
}
