namespace Appliance.Hardware.Sensors;

/// <summary>
/// The <c>Sensors</c> configuration section: named sensors, e.g. <c>Sensors:living-room</c> = { Type: Bme280, Bus: 1,
/// Address: 118 }. The section <c>Sensors:Bme280</c> of earlier versions (Enabled, Bus, Address, IntervalSeconds, no
/// Type) still works: it is a Bme280 named "Bme280", read when Enabled is true.
/// </summary>
public sealed class SensorsOptions
{
    public const string SectionName = "Sensors";

    /// <summary>The sensor types, from Iot.Device.Bindings.</summary>
    public static readonly IReadOnlyList<string> Types = ["Bme280", "Bmp280", "Bme680", "Sht3x", "Bh1750fvi", "Ds18b20"];

    public Dictionary<string, SensorOptions> Sensors { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The sensors to read (named, with their type resolved); the legacy section only when enabled.</summary>
    public IEnumerable<(string Name, SensorOptions Options)> Active =>
        Sensors.OrderBy(s => s.Key, StringComparer.Ordinal)
            .Where(s => s.Value.Enabled ?? !IsLegacy(s.Key, s.Value))
            .Select(s => (s.Key, s.Value.ResolvedType(s.Key) is { } type ? s.Value.WithType(type) : s.Value));

    internal static bool IsLegacy(string name, SensorOptions options) =>
        string.IsNullOrEmpty(options.Type) && name == "Bme280";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (name, sensor) in Sensors.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var key = $"Sensors:{name}";
            if (!Gpio.GpioOptions.IsValidName(name))
            {
                errors.Add($"{key}: sensor names may use letters, digits, '-' and '_' (1-32 characters).");
            }

            if (sensor.Enabled == false)
            {
                continue;
            }

            var type = sensor.ResolvedType(name);
            if (type is null)
            {
                if (!IsLegacy(name, sensor))
                {
                    errors.Add($"{key}:Type must be one of {string.Join(", ", Types)} (got '{sensor.Type}').");
                }

                continue;
            }

            if (IsLegacy(name, sensor) && sensor.Enabled != true)
            {
                continue;
            }

            if (sensor.Bus is < 0 or > 255)
            {
                errors.Add($"{key}:Bus must be between 0 and 255 (got {sensor.Bus}).");
            }

            if (type != "Ds18b20" && sensor.Address is { } address && address is < 0x03 or > 0x77)
            {
                errors.Add($"{key}:Address must be a 7-bit address 0x03-0x77, for a {type} normally {SensorOptions.DefaultAddress(type):X2}h ({SensorOptions.DefaultAddress(type)}) (got {address}).");
            }

            if (sensor.IntervalSeconds is < 1 or > 3600)
            {
                errors.Add($"{key}:IntervalSeconds must be between 1 and 3600 (got {sensor.IntervalSeconds}).");
            }

            if (type == "Ds18b20" && sensor.Device is { Length: > 0 } device && !device.StartsWith("28-", StringComparison.Ordinal))
            {
                errors.Add($"{key}:Device must be a DS18B20's 1-Wire id such as 28-00000a1b2c3d (got '{device}').");
            }
        }

        return errors;
    }
}

/// <summary>One named sensor.</summary>
public sealed class SensorOptions
{
    /// <summary>Bme280, Bmp280, Bme680, Sht3x, Bh1750fvi or Ds18b20 (case as written here).</summary>
    public string? Type { get; set; }

    /// <summary>Read it (default: yes; the legacy <c>Sensors:Bme280</c> section needs <c>true</c>).</summary>
    public bool? Enabled { get; set; }

    /// <summary>I2C: the bus, /dev/i2c-N (the Pi's header bus is 1). Ds18b20: the 1-Wire bus master number (w1_bus_masterN).</summary>
    public int Bus { get; set; } = 1;

    /// <summary>I2C: the chip's 7-bit address; default per type (Bme280/Bmp280/Bme680 0x76, Sht3x 0x44, Bh1750fvi 0x23).</summary>
    public int? Address { get; set; }

    /// <summary>Ds18b20: the 1-Wire id (28-…); empty: the first DS18B20 on the bus.</summary>
    public string? Device { get; set; }

    /// <summary>Seconds between readings (1-3600); a failed reading is retried after the same time.</summary>
    public int IntervalSeconds { get; set; } = 30;

    /// <summary>The address used: <see cref="Address"/> or the type's usual one.</summary>
    public int EffectiveAddress => Address ?? DefaultAddress(Type ?? string.Empty);

    internal static int DefaultAddress(string type) => type switch
    {
        "Sht3x" => 0x44,
        "Bh1750fvi" => 0x23,
        _ => 0x76,
    };

    internal string? ResolvedType(string name) =>
        SensorsOptions.IsLegacy(name, this) ? "Bme280" : SensorsOptions.Types.FirstOrDefault(t => string.Equals(t, Type, StringComparison.OrdinalIgnoreCase));

    internal SensorOptions WithType(string type) => new()
    {
        Type = type, Enabled = Enabled, Bus = Bus, Address = Address, Device = Device, IntervalSeconds = IntervalSeconds,
    };
}
