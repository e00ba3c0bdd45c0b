namespace Appliance.Hardware.Sensors;

/// <summary>The <c>Sensors:Bme280</c> configuration section.</summary>
public sealed class Bme280Options
{
    public const string SectionName = "Sensors:Bme280";

    /// <summary>Read a BME280 at all (off by default: not every appliance has one).</summary>
    public bool Enabled { get; set; }

    /// <summary>The I2C bus number: /dev/i2c-N (the Pi's header bus is 1).</summary>
    public int Bus { get; set; } = 1;

    /// <summary>The chip address: 0x76 (118, SDO to ground) or 0x77 (119).</summary>
    public int Address { get; set; } = 0x76;

    /// <summary>Seconds between readings (1–3600).</summary>
    public int IntervalSeconds { get; set; } = 30;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Bus is < 0 or > 255)
        {
            errors.Add($"Sensors:Bme280:Bus must be between 0 and 255 (got {Bus}).");
        }

        if (Address is < 0x03 or > 0x77)
        {
            errors.Add($"Sensors:Bme280:Address must be a 7-bit address 0x03-0x77, normally 0x76 or 0x77 (got {Address}).");
        }

        if (IntervalSeconds is < 1 or > 3600)
        {
            errors.Add($"Sensors:Bme280:IntervalSeconds must be between 1 and 3600 (got {IntervalSeconds}).");
        }

        return errors;
    }
}
