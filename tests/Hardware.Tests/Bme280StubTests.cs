using System.Device.I2c;
using System.Net;
using System.Text.Json.Nodes;
using Appliance.Hardware.I2c;
using Appliance.Hardware.Sensors;

namespace Hardware.Tests;

/// <summary>
/// Iot.Device.Bindings' Bme280 over our SMBus I2cDevice against i2c-stub (chip_addr=0x76, SMBus only: no I2C_FUNC_I2C),
/// preloaded with the datasheet's worked-example registers.
/// </summary>
[Trait("Category", "Hardware")]
public sealed class Bme280StubTests
{
    // Bosch's worked example (BMP280 datasheet 3.12, same formulas in the BME280's): 25.08 °C, 100653.27 Pa.
    private const int AdcT = 519888;
    private const int AdcP = 415148;
    private const int AdcH = 30000;

    private static readonly ushort[] TemperatureAndPressure = [27504, 26435, unchecked((ushort)-1000), 36477, unchecked((ushort)-10685), 3024, 2855, 140, unchecked((ushort)-7), 15500, unchecked((ushort)-14600), 6000];

    private static int StubBus()
    {
        foreach (var dir in Directory.GetDirectories("/sys/class/i2c-dev"))
        {
            if (File.ReadAllText(Path.Combine(dir, "name")).Trim() == "SMBus stub driver")
            {
                return int.Parse(Path.GetFileName(dir)["i2c-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no i2c-stub bus: the lane loads i2c-stub chip_addr=0x76 and i2c-dev");
    }

    /// <summary>Writes the registers a BME280 would hold, through the SMBus device the appliance uses.</summary>
    private static int Preload(byte chipId = 0x60)
    {
        var bus = StubBus();
        using var device = SmBusI2cDevice.Open(new I2cConnectionSettings(bus, 0x76));
        var registers = new Dictionary<byte, byte> { [0xD0] = chipId, [0xF3] = 0, [0xF4] = 0 };
        for (var i = 0; i < TemperatureAndPressure.Length; i++)
        {
            registers[(byte)(0x88 + (2 * i))] = (byte)(TemperatureAndPressure[i] & 0xFF);
            registers[(byte)(0x89 + (2 * i))] = (byte)(TemperatureAndPressure[i] >> 8);
        }

        // Humidity trimming of a real part: H1 75, H2 362, H3 0, H4 324, H5 50, H6 30.
        registers[0xA1] = 75;
        registers[0xE1] = 362 & 0xFF;
        registers[0xE2] = 362 >> 8;
        registers[0xE3] = 0;
        registers[0xE4] = 324 >> 4;
        registers[0xE5] = (byte)((324 & 0x0F) | ((50 & 0x0F) << 4));
        registers[0xE6] = 50 >> 4;
        registers[0xE7] = 30;
        registers[0xF7] = (byte)(AdcP >> 12);
        registers[0xF8] = unchecked((byte)(AdcP >> 4));
        registers[0xF9] = (byte)((AdcP & 0xF) << 4);
        registers[0xFA] = (byte)(AdcT >> 12);
        registers[0xFB] = unchecked((byte)(AdcT >> 4));
        registers[0xFC] = (byte)((AdcT & 0xF) << 4);
        registers[0xFD] = AdcH >> 8;
        registers[0xFE] = AdcH & 0xFF;
        foreach (var (register, value) in registers)
        {
            device.Write([register, value]);
        }

        return bus;
    }

    [Fact]
    public void Adapter_IsSmBusOnly_SoTheApplianceTakesTheSmBusDevice()
    {
        var bus = Preload();
        Assert.Equal(0UL, SmBusI2cDevice.Functions(bus) & 0x1); // no I2C_FUNC_I2C: UnixI2cDevice's I2C_RDWR is refused
        using var device = SmBusI2cDevice.CreateForAdapter(new I2cConnectionSettings(bus, 0x76));
        Assert.IsType<SmBusI2cDevice>(device);

        // A register read in both of the bindings' patterns: pointer write then read, and WriteRead.
        device.WriteByte(0xD0);
        Assert.Equal(0x60, device.ReadByte());
        Span<byte> trimming = stackalloc byte[2];
        device.WriteRead([0x88], trimming);
        Assert.Equal(27504, trimming[0] | (trimming[1] << 8));
    }

    [Fact]
    public void Bme280Binding_DatasheetRegisters_GiveTheWorkedExampleValues()
    {
        var bus = Preload();
        using var sensor = SensorDevice.Open(new SensorOptions { Type = "Bme280", Bus = bus }, SmBusI2cDevice.CreateForAdapter);
        var values = sensor.Read().ToDictionary(v => v.Quantity);
        Assert.Equal(25.08, values["temperature"].Value, 2);
        Assert.Equal(1006.53, values["pressure"].Value, 2);
        Assert.InRange(values["humidity"].Value, 0.0, 100.0);
        Assert.Equal("/dev/i2c-" + bus + " 0x76", sensor.Source);
    }

    [Fact]
    public void Open_WrongOrMissingChip_SaysWhat()
    {
        var bus = Preload(chipId: 0x58);
        var bmp = Assert.Throws<IOException>(() => SensorDevice.Open(new SensorOptions { Type = "Bme280", Bus = bus }, SmBusI2cDevice.CreateForAdapter));
        Assert.Contains("this is a Bmp280", bmp.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<IOException>(() => SensorDevice.Open(new SensorOptions { Type = "Bme280", Bus = bus, Address = 0x77 }, SmBusI2cDevice.CreateForAdapter));
        Assert.Contains("0x77", missing.Message, StringComparison.Ordinal);
        Preload();
    }

    [Fact]
    public async Task Appliance_Status_ShowsSensorReadingsAndReportsAMissingChipWithoutFailing()
    {
        var bus = Preload();
        await using (var app = await GpioCharacterDeviceTests.StartAppAsync("--Sensors:room:Type=Bme280", $"--Sensors:room:Bus={bus}", "--Sensors:room:Address=118"))
        {
            using var client = new HttpClient { BaseAddress = app.Address };
            JsonNode? environment = null;
            GuestKernel.WaitFor(() =>
            {
                environment = JsonNode.Parse(client.GetStringAsync(new Uri("/api/status", UriKind.Relative)).Result)!["sensors"]?[0];
                return environment?["values"]?.AsArray().Count > 0;
            }, TimeSpan.FromSeconds(60), "a BME280 reading in /api/status");
            var values = environment!["values"]!.AsArray().ToDictionary(v => v!["quantity"]!.GetValue<string>());
            Assert.Equal(25.08, values["temperature"]!["value"]!.GetValue<double>(), 2);
            Assert.Equal("°C", values["temperature"]!["unit"]!.GetValue<string>());
            Assert.Equal(1006.53, values["pressure"]!["value"]!.GetValue<double>(), 2);
            Assert.Null(environment["problem"]);
        }

        await using (var app = await GpioCharacterDeviceTests.StartAppAsync("--Sensors:Bme280:Enabled=true", $"--Sensors:Bme280:Bus={bus}", "--Sensors:Bme280:Address=119"))
        {
            // The settings of earlier versions (Sensors:Bme280 with Enabled, no Type) still read a Bme280.
            using var client = new HttpClient { BaseAddress = app.Address };
            JsonNode? environment = null;
            GuestKernel.WaitFor(() =>
            {
                environment = JsonNode.Parse(client.GetStringAsync(new Uri("/api/status", UriKind.Relative)).Result)!["sensors"]?[0];
                return environment?["problem"] is not null;
            }, TimeSpan.FromSeconds(60), "the missing chip reported in /api/status");
            Assert.Contains("0x77", environment!["problem"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/status", UriKind.Relative))).StatusCode);
        }
    }
}
