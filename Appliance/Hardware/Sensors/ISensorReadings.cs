namespace Appliance.Hardware.Sensors;

/// <summary>
/// The configured sensors' latest readings, for every feature that uses them (/api/status, the page, the WeCom status
/// reply; alerts and MQTT subscribe to <see cref="Changed"/>). Values carry their unit.
/// </summary>
public interface ISensorReadings
{
    /// <summary>Every configured sensor, by name, with its latest values or its problem.</summary>
    IReadOnlyList<SensorReading> Current { get; }

    /// <summary>Raised on the sensors' thread after each reading or failed attempt; handlers must not block.</summary>
    event EventHandler<SensorReading>? Changed;
}

/// <summary>One sensor's state: its latest values (empty before the first reading) and the current problem, if any.</summary>
/// <param name="Name">The configured name (Sensors:NAME).</param>
/// <param name="Type">Bme280, Sht3x, …</param>
/// <param name="Source">Where it is, e.g. "/dev/i2c-1 0x76" or "w1_bus_master1/28-00000a1b2c3d".</param>
/// <param name="At">When the values were read.</param>
/// <param name="Values">The quantities read, e.g. temperature 25.08 °C.</param>
/// <param name="Problem">Why the last attempt failed (the values are then from before, or empty); null when it worked.</param>
public sealed record SensorReading(string Name, string Type, string Source, DateTimeOffset? At, IReadOnlyList<SensorValue> Values, string? Problem);

/// <summary>A quantity with its unit: ("temperature", 25.08, "°C").</summary>
public readonly record struct SensorValue(string Quantity, double Value, string Unit)
{
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Value} {Unit}");
}
