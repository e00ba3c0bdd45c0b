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

/// <remarks>
/// Diagnostics come from the <c>/api/status</c> document (resolved at the first reading: it lists every status
/// contributor, MQTT's own among them); environment readings from <see cref="ISensorReadings"/>, one entity per
/// configured sensor and quantity (<c>NAME_quantity</c>), known at start from the sensor's type.
/// </remarks>
internal sealed class StatusReadings(IServiceProvider services, SensorsOptions sensors, ISensorReadings readings) : IMqttReadings
{
    // Declared before Quantities: static fields are initialised in order.
    private static readonly (string, string?, string) Temperature = ("temperature", "temperature", "°C");
    private static readonly (string, string?, string) Humidity = ("humidity", "humidity", "%");
    private static readonly (string, string?, string) Pressure = ("pressure", "atmospheric_pressure", "hPa");

    /// <summary>What each sensor type measures, as Home Assistant sees it: (quantity, device class, unit).</summary>
    private static readonly Dictionary<string, (string Quantity, string? DeviceClass, string Unit)[]> Quantities = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Bme280"] = [Temperature, Humidity, Pressure],
        ["Bmp280"] = [Temperature, Pressure],
        ["Bme680"] = [Temperature, Humidity, Pressure, ("gasResistance", null, "Ω")],
        ["Sht3x"] = [Temperature, Humidity],
        ["Bh1750fvi"] = [("illuminance", "illuminance", "lx")],
        ["Ds18b20"] = [Temperature],
    };

    public IReadOnlyList<MqttSensor> Sensors { get; } =
    [
        .. sensors.Active.SelectMany(s => Quantities.TryGetValue(s.Options.Type ?? "", out var quantities) ? quantities.Select(q =>
            new MqttSensor(Key(s.Name, q.Quantity), $"{s.Name} {q.Quantity}", q.DeviceClass, q.Unit, "measurement", false)) : []),
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
        foreach (var reading in readings.Current)
        {
            foreach (var value in reading.Values)
            {
                values[Key(reading.Name, value.Quantity)] = value.Value.ToString(CultureInfo.InvariantCulture);
            }
        }

        return values;
    }

    /// <summary>The topic level and unique_id part: sensor names are letters, digits, '-' and '_' already.</summary>
    internal static string Key(string sensor, string quantity) => $"{sensor}_{quantity}".ToLowerInvariant();

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
