using System.Device.I2c;
using Appliance.Hardware.Sensors;
using Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Hardware;

/// <summary>The sensors from Iot.Device.Bindings, each driven through a simulated chip's registers.</summary>
public sealed class SensorTests
{
    // Bosch's worked example (BMP280 datasheet section 3.12; the BME280 uses the same T and P formulas): 25.08 °C,
    // 100653.27 Pa, from these trimming values and raw readings.
    private const int AdcT = 519888;
    private const int AdcP = 415148;
    private const int AdcH = 30000;
    private static readonly int[] TemperatureAndPressure = [27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000];

    // Humidity trimming of a real part: H1 75, H2 362, H3 0, H4 324, H5 50, H6 30.
    private const int H1 = 75, H2 = 362, H3 = 0, H4 = 324, H5 = 50, H6 = 30;

    /// <summary>A BME280 (or, with another id, a BMP280) holding the datasheet example's registers.</summary>
    internal static SimulatedI2cChip Bosch(byte chipId = 0x60)
    {
        var chip = new SimulatedI2cChip(1, 0x76);
        var r = chip.Registers;
        r[0xD0] = chipId;
        for (var i = 0; i < TemperatureAndPressure.Length; i++)
        {
            r[0x88 + (2 * i)] = (byte)(TemperatureAndPressure[i] & 0xFF);
            r[0x89 + (2 * i)] = (byte)((TemperatureAndPressure[i] >> 8) & 0xFF);
        }

        r[0xA1] = H1;
        r[0xE1] = H2 & 0xFF;
        r[0xE2] = H2 >> 8;
        r[0xE3] = H3;
        r[0xE4] = H4 >> 4;
        r[0xE5] = (H4 & 0x0F) | ((H5 & 0x0F) << 4);
        r[0xE6] = H5 >> 4;
        r[0xE7] = H6;
        r[0xF7] = AdcP >> 12;
        r[0xF8] = unchecked((byte)(AdcP >> 4));
        r[0xF9] = (AdcP & 0xF) << 4;
        r[0xFA] = AdcT >> 12;
        r[0xFB] = unchecked((byte)(AdcT >> 4));
        r[0xFC] = (AdcT & 0xF) << 4;
        r[0xFD] = AdcH >> 8;
        r[0xFE] = AdcH & 0xFF;
        return chip;
    }

    private static SensorDevice Open(string type, I2cDevice chip) =>
        SensorDevice.Open(new SensorOptions { Type = type }, _ => chip);

    private static double Value(IReadOnlyList<SensorValue> values, string quantity, string unit)
    {
        var value = Assert.Single(values, v => v.Quantity == quantity);
        Assert.Equal(unit, value.Unit);
        return value.Value;
    }

    [Fact]
    public void Bme280_DatasheetWorkedExample_GivesItsValuesThroughTheBinding()
    {
        using var sensor = Open("Bme280", Bosch());
        var values = sensor.Read();

        Assert.Equal(25.08, Value(values, "temperature", "°C"), 2);
        Assert.Equal(1006.53, Value(values, "pressure", "hPa"), 2);
        Assert.Equal(IntegerHumidity(AdcH) / 1024.0, Value(values, "humidity", "%RH"), 1);
    }

    [Fact]
    public void Bmp280_DatasheetWorkedExample_GivesTemperatureAndPressureOnly()
    {
        using var sensor = Open("Bmp280", Bosch(chipId: 0x58));
        var values = sensor.Read();

        Assert.Equal(["temperature", "pressure"], values.Select(v => v.Quantity));
        Assert.Equal(25.08, Value(values, "temperature", "°C"), 2);
        Assert.Equal(1006.53, Value(values, "pressure", "hPa"), 2);
    }

    [Fact]
    public void Open_WrongBoschChip_SaysWhichChipIsThere()
    {
        var chip = Bosch(chipId: 0x58);
        var error = Assert.Throws<IOException>(() => Open("Bme280", chip));
        Assert.Equal("/dev/i2c-1 0x76: this is a Bmp280 (chip id 0x58), not a Bme280; set Type=Bmp280", error.Message);
        Assert.True(chip.Disposed);

        var other = Assert.Throws<IOException>(() => Open("Bme680", Bosch(chipId: 0x42)));
        Assert.Equal("/dev/i2c-1 0x76: chip id 0x42 is not a Bme680 (0x61)", other.Message);
    }

    [Fact]
    public void Sht3x_MeasurementWithCrc_GivesTemperatureAndHumidity()
    {
        // 25.0 °C = -45 + 175 * 26214 / 65535; 50.0 %RH = 100 * 32768 / 65535.
        var chip = new SimulatedI2cChip(1, 0x44) { Response = [] };
        chip.OnWrite = (c, written) => c.Response = written is [0x24, 0x00] ? Sht3xFrame(26214, 32768) : [];
        using var sensor = Open("Sht3x", chip);
        var values = sensor.Read();

        Assert.Equal(25.0, Value(values, "temperature", "°C"), 1);
        Assert.Equal(50.0, Value(values, "humidity", "%RH"), 1);
        Assert.Contains(chip.Writes, w => w is [0x30, 0xA2]); // the soft reset the binding sends first
    }

    [Fact]
    public void Sht3x_BadCrc_IsAProblemNotAValue()
    {
        var chip = new SimulatedI2cChip(1, 0x44) { Response = [] };
        chip.OnWrite = (c, written) =>
        {
            var frame = Sht3xFrame(26214, 32768);
            frame[2] ^= 0xFF;
            frame[5] ^= 0xFF;
            c.Response = frame;
        };
        using var sensor = Open("Sht3x", chip);
        var error = Assert.Throws<IOException>(() => sensor.Read());
        Assert.Contains("CRC", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bh1750fvi_RawCount_GivesLux()
    {
        // 1.2 counts per lux in high-resolution mode: 1200 counts = 1000 lx.
        var chip = new SimulatedI2cChip(1, 0x23) { Response = [1200 >> 8, 1200 & 0xFF] };
        using var sensor = Open("Bh1750fvi", chip);
        Assert.Equal(1000.0, Value(sensor.Read(), "illuminance", "lx"), 1);
        Assert.Contains(chip.Writes, w => w is [0x01]); // power on
    }

    [Fact]
    public void Ds18b20_WithoutA1WireBus_IsAProblemSayingHowToEnableIt()
    {
        if (Directory.Exists("/sys/bus/w1/devices"))
        {
            return; // this machine has a 1-Wire bus: the message below is for those without
        }

        var error = Assert.Throws<IOException>(() => SensorDevice.Open(new SensorOptions { Type = "Ds18b20" }, _ => throw new InvalidOperationException()));
        Assert.Contains("w1-gpio", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Monitor_MissingChip_IsReportedAndRetriedUntilItAnswers()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero));
        var chip = Bosch();
        chip.Missing = true;
        var options = new SensorsOptions { Sensors = { ["room"] = new SensorOptions { Type = "bme280", IntervalSeconds = 10 } } };
        using var monitor = new SensorMonitor(options, clock, NullLogger.Instance, _ => chip);
        var changes = new List<SensorReading>();
        monitor.Changed += (_, r) => changes.Add(r);

        Assert.Equal(TimeSpan.FromSeconds(10), monitor.ReadDue());
        var failed = Assert.Single(monitor.Current);
        Assert.Equal(("room", "Bme280", "/dev/i2c-1 0x76"), (failed.Name, failed.Type, failed.Source));
        Assert.Contains("ENXIO", failed.Problem, StringComparison.Ordinal);
        Assert.Empty(failed.Values);

        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), monitor.ReadDue()); // not due: no attempt
        Assert.Single(changes);

        chip.Missing = false;
        clock.Advance(TimeSpan.FromSeconds(5));
        monitor.ReadDue();
        var read = Assert.Single(monitor.Current);
        Assert.Null(read.Problem);
        Assert.Equal(clock.GetUtcNow(), read.At);
        Assert.Equal(25.08, Value(read.Values, "temperature", "°C"), 2);
        Assert.Equal(2, changes.Count);
    }

    [Fact]
    public void Options_LegacyBme280Section_StillReadsWhenEnabled()
    {
        var legacy = new SensorsOptions { Sensors = { ["Bme280"] = new SensorOptions { Enabled = true, Address = 0x77 } } };
        Assert.Empty(legacy.Validate());
        var (name, options) = Assert.Single(legacy.Active);
        Assert.Equal(("Bme280", "Bme280", 0x77), (name, options.Type, options.EffectiveAddress));

        var off = new SensorsOptions { Sensors = { ["Bme280"] = new SensorOptions { Address = 0x77 } } };
        Assert.Empty(off.Validate());
        Assert.Empty(off.Active);
    }

    [Fact]
    public void Options_BadValues_NameTheKey()
    {
        var options = new SensorsOptions
        {
            Sensors =
            {
                ["attic"] = new SensorOptions { Type = "Dht22" },
                ["porch"] = new SensorOptions { Type = "Sht3x", Address = 0x90, IntervalSeconds = 0 },
                ["tank"] = new SensorOptions { Type = "Ds18b20", Device = "10-abc" },
            },
        };
        Assert.Equal(
        [
            "Sensors:attic:Type must be one of Bme280, Bmp280, Bme680, Sht3x, Bh1750fvi, Ds18b20 (got 'Dht22').",
            "Sensors:porch:Address must be a 7-bit address 0x03-0x77, for a Sht3x normally 44h (68) (got 144).",
            "Sensors:porch:IntervalSeconds must be between 1 and 3600 (got 0).",
            "Sensors:tank:Device must be a DS18B20's 1-Wire id such as 28-00000a1b2c3d (got '10-abc').",
        ], options.Validate());
        Assert.Equal(0x44, new SensorOptions { Type = "Sht3x" }.EffectiveAddress);
        Assert.Equal(0x23, new SensorOptions { Type = "Bh1750fvi" }.EffectiveAddress);
    }

    /// <summary>An SHT3x measurement frame: big-endian words, each followed by its CRC-8 (poly 0x31, init 0xFF).</summary>
    private static byte[] Sht3xFrame(ushort temperature, ushort humidity) =>
        [(byte)(temperature >> 8), (byte)temperature, Crc8((byte)(temperature >> 8), (byte)temperature),
         (byte)(humidity >> 8), (byte)humidity, Crc8((byte)(humidity >> 8), (byte)humidity)];

    private static byte Crc8(byte a, byte b)
    {
        byte crc = 0xFF;
        foreach (var value in new[] { a, b })
        {
            crc ^= value;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x80) != 0 ? (byte)((crc << 1) ^ 0x31) : (byte)(crc << 1);
            }
        }

        return crc;
    }

    /// <summary>The datasheet's 32-bit integer humidity compensation (BME280 section 4.2.3) as an independent oracle; %RH x 1024.</summary>
    private static uint IntegerHumidity(int adcH)
    {
        // t_fine of the worked example (temperature 519888).
        var var1 = ((((AdcT >> 3) - (TemperatureAndPressure[0] << 1)) * TemperatureAndPressure[1]) >> 11);
        var var2 = (((((AdcT >> 4) - TemperatureAndPressure[0]) * ((AdcT >> 4) - TemperatureAndPressure[0])) >> 12) * TemperatureAndPressure[2]) >> 14;
        var tFine = var1 + var2;
        var v = tFine - 76800;
        v = (((adcH << 14) - (H4 << 20) - (H5 * v) + 16384) >> 15) *
            (((((((v * H6) >> 10) * (((v * H3) >> 11) + 32768)) >> 10) + 2097152) * H2 + 8192) >> 14);
        v -= ((((v >> 15) * (v >> 15)) >> 7) * H1) >> 4;
        v = Math.Clamp(v, 0, 419430400);
        return (uint)(v >> 12);
    }
}
