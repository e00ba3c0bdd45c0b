using System.Device.I2c;
using Iot.Device.Bh1750fvi;
using Iot.Device.Bmxx80;
using Iot.Device.OneWire;
using Iot.Device.Sht3x;

namespace Appliance.Hardware.Sensors;

/// <summary>
/// One opened sensor, read through its Iot.Device.Bindings driver. <see cref="Open"/> checks what it can (the Bosch
/// chips' id) so that a wrong or missing chip is an <see cref="IOException"/> saying what is there.
/// </summary>
internal abstract class SensorDevice : IDisposable
{
    internal const byte BoschChipIdRegister = 0xD0;

    /// <summary>Where it is, e.g. "/dev/i2c-1 0x76".</summary>
    public abstract string Source { get; }

    /// <summary>One measurement. Throws <see cref="IOException"/> (or the binding's own exception) when it fails.</summary>
    public abstract IReadOnlyList<SensorValue> Read();

    public abstract void Dispose();

    /// <summary>Opens the sensor <paramref name="options"/> describe; I2C devices come from <paramref name="openI2c"/>.</summary>
    public static SensorDevice Open(SensorOptions options, Func<I2cConnectionSettings, I2cDevice> openI2c)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(openI2c);
        if (options.Type == "Ds18b20")
        {
            return OneWireSensor.Open(options);
        }

        var settings = new I2cConnectionSettings(options.Bus, options.EffectiveAddress);
        var where = $"/dev/i2c-{settings.BusId} 0x{settings.DeviceAddress:X2}";
        var i2c = openI2c(settings);
        try
        {
            return options.Type switch
            {
                "Bme280" => Bosch(i2c, where, "Bme280", 0x60, static d => new Bme280(d)),
                "Bmp280" => Bosch(i2c, where, "Bmp280", 0x58, static d => new Bmp280(d)),
                "Bme680" => Bosch(i2c, where, "Bme680", 0x61, static d => new Bme680(d)),
                "Sht3x" => new I2cSensor(where, i2c, new Sht3x(new Sht3xCrcCheck(i2c, where))),
                "Bh1750fvi" => new I2cSensor(where, i2c, new Bh1750fvi(i2c)),
                _ => throw new IOException($"unknown sensor type '{options.Type}'"),
            };
        }
        catch
        {
            i2c.Dispose();
            throw;
        }
    }

    /// <summary>The Bosch chips answer their id at 0xD0: 0x60 BME280, 0x58 BMP280, 0x61 BME680.</summary>
    private static I2cSensor Bosch(I2cDevice i2c, string where, string type, byte expected, Func<I2cDevice, IDisposable> create)
    {
        i2c.WriteByte(BoschChipIdRegister);
        var id = i2c.ReadByte();
        if (id == expected)
        {
            return new I2cSensor(where, i2c, create(i2c));
        }

        var actual = id switch
        {
            0x60 => "Bme280",
            0x58 => "Bmp280",
            0x61 => "Bme680",
            _ => null,
        };
        throw new IOException(actual is null
            ? $"{where}: chip id 0x{id:X2} is not a {type} (0x{expected:X2})"
            : $"{where}: this is a {actual} (chip id 0x{id:X2}), not a {type}; set Type={actual}");
    }

    private sealed class I2cSensor(string source, I2cDevice i2c, IDisposable binding) : SensorDevice
    {
        public override string Source => source;

        public override IReadOnlyList<SensorValue> Read()
        {
            List<SensorValue> values = [];
            switch (binding)
            {
                case Bme280 bme280:
                    var r280 = bme280.Read();
                    Add(values, "temperature", r280.Temperature?.DegreesCelsius, "°C", 2);
                    Add(values, "humidity", r280.Humidity?.Percent, "%RH", 1);
                    Add(values, "pressure", r280.Pressure?.Hectopascals, "hPa", 2);
                    break;
                case Bmp280 bmp280:
                    var rBmp = bmp280.Read();
                    Add(values, "temperature", rBmp.Temperature?.DegreesCelsius, "°C", 2);
                    Add(values, "pressure", rBmp.Pressure?.Hectopascals, "hPa", 2);
                    break;
                case Bme680 bme680:
                    var r680 = bme680.Read();
                    Add(values, "temperature", r680.Temperature?.DegreesCelsius, "°C", 2);
                    Add(values, "humidity", r680.Humidity?.Percent, "%RH", 1);
                    Add(values, "pressure", r680.Pressure?.Hectopascals, "hPa", 2);
                    Add(values, "gasResistance", r680.GasResistance?.Ohms, "Ω", 0);
                    break;
                case Sht3x sht3x:
                    // Each property is its own measurement; the binding returns NaN when the CRC fails.
                    Add(values, "temperature", sht3x.Temperature.DegreesCelsius, "°C", 2);
                    Add(values, "humidity", sht3x.Humidity.Percent, "%RH", 1);
                    break;
                case Bh1750fvi light:
                    Add(values, "illuminance", light.Illuminance.Lux, "lx", 1);
                    break;
            }

            return values.Count > 0 ? values : throw new IOException($"{source}: the sensor gave no valid value");
        }

        public override void Dispose()
        {
            binding.Dispose();
            i2c.Dispose();
        }
    }

    /// <summary>
    /// Sht3x 4.2 ignores a measurement whose CRC is wrong and returns its previous value (0 before the first): this
    /// checks the 6-byte measurement frame itself, so a bad one is a problem rather than a stale or zero value.
    /// </summary>
    private sealed class Sht3xCrcCheck(I2cDevice inner, string where) : I2cDevice
    {
        public override I2cConnectionSettings ConnectionSettings => inner.ConnectionSettings;

        public override void Read(Span<byte> buffer)
        {
            inner.Read(buffer);
            if (buffer.Length == 6 && (Crc8(buffer[..2]) != buffer[2] || Crc8(buffer[3..5]) != buffer[5]))
            {
                throw new IOException($"{where}: the SHT3x measurement failed its CRC check (wiring, noise, or not an SHT3x)");
            }
        }

        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

        public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer) => inner.WriteRead(writeBuffer, readBuffer);

        /// <summary>CRC-8, polynomial 0x31, initial 0xFF (SHT3x datasheet 4.12).</summary>
        internal static byte Crc8(ReadOnlySpan<byte> data)
        {
            byte crc = 0xFF;
            foreach (var value in data)
            {
                crc ^= value;
                for (var bit = 0; bit < 8; bit++)
                {
                    crc = (crc & 0x80) != 0 ? (byte)((crc << 1) ^ 0x31) : (byte)(crc << 1);
                }
            }

            return crc;
        }
    }

    private static void Add(List<SensorValue> values, string quantity, double? value, string unit, int decimals)
    {
        if (value is { } v && double.IsFinite(v))
        {
            values.Add(new SensorValue(quantity, Math.Round(v, decimals), unit));
        }
    }

    /// <summary>A DS18B20 on the kernel's w1 bus (w1-gpio + w1-therm), read through the binding's sysfs path.</summary>
    private sealed class OneWireSensor(OneWireThermometerDevice device) : SensorDevice
    {
        public override string Source => $"{device.BusId}/{device.DeviceId}";

        public static OneWireSensor Open(SensorOptions options)
        {
            var bus = $"w1_bus_master{options.Bus}";
            if (!Directory.Exists("/sys/bus/w1/devices"))
            {
                throw new IOException("no 1-Wire bus (/sys/bus/w1 missing: enable it with dtoverlay=w1-gpio in /boot/firmware/config.txt)");
            }

            if (options.Device is { Length: > 0 } id)
            {
                return File.Exists(Path.Combine("/sys/bus/w1/devices", id, "w1_slave"))
                    ? new OneWireSensor(new OneWireThermometerDevice(bus, id))
                    : throw new IOException($"{bus}: no 1-Wire device {id} (is it wired, is w1-therm loaded?)");
            }

            var first = OneWireThermometerDevice.EnumerateDevices().FirstOrDefault(d => d.BusId == bus && d.Family == DeviceFamily.Ds18b20);
            return first is null
                ? throw new IOException($"{bus}: no DS18B20 found")
                : new OneWireSensor(first);
        }

        public override IReadOnlyList<SensorValue> Read()
        {
            try
            {
                return [new SensorValue("temperature", Math.Round(device.ReadTemperature().DegreesCelsius, 2), "°C")];
            }
            catch (InvalidOperationException ex)
            {
                throw new IOException($"{Source}: {ex.Message}", ex);
            }
        }

        public override void Dispose()
        {
        }
    }
}
