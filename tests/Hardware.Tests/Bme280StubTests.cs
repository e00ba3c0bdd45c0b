using System.Net;
using System.Text.Json.Nodes;
using Appliance.Hardware.Sensors;
using Camera.Interop;

namespace Hardware.Tests;

/// <summary>The BME280 reader against i2c-stub (chip_addr=0x76) preloaded with the datasheet's worked-example registers.</summary>
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

    /// <summary>Writes the registers a BME280 would hold, through the same SMBus path the reader uses.</summary>
    private static unsafe int Preload(byte chipId = 0x60)
    {
        var bus = StubBus();
        var path = $"/dev/i2c-{bus}";
        var fd = Libc.open(path, Libc.ReadWrite);
        Assert.True(fd >= 0, $"cannot open {path}");
        try
        {
            Assert.True(Libc.ioctl(fd, 0x0703, (void*)0x76) >= 0, "I2C_SLAVE 0x76 failed");
            var registers = new Dictionary<byte, byte> { [0xD0] = chipId, [0xF3] = 0 };
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
                Bme280Device.WriteByte(fd, path, register, value);
            }
        }
        finally
        {
            Libc.close(fd);
        }

        return bus;
    }

    [Fact]
    public void Read_DatasheetRegisters_GiveTheWorkedExampleValues()
    {
        var bus = Preload();
        using var device = Bme280Device.Open(bus, 0x76);
        Assert.Equal(27504, device.Calibration.T1);
        Assert.Equal(-7, device.Calibration.P6);
        Assert.Equal((324, 50), (device.Calibration.H4, device.Calibration.H5));

        var (t, h, p) = device.Read();
        Assert.Equal(25.08, t, 2);
        Assert.Equal(1006.5327, p, 3);
        var (_, tFine) = device.Calibration.CompensateTemperature(AdcT);
        Assert.Equal(device.Calibration.CompensateHumidity(AdcH, tFine), h, 6);
        Assert.InRange(h, 0.0, 100.0);
    }

    [Fact]
    public void Open_WrongOrMissingChip_SaysWhat()
    {
        var bus = Preload(chipId: 0x58);
        var bmp = Assert.Throws<IOException>(() => Bme280Device.Open(bus, 0x76));
        Assert.Contains("BMP280", bmp.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<IOException>(() => Bme280Device.Open(bus, 0x77));
        Assert.Contains("0x77", missing.Message, StringComparison.Ordinal);
        Preload();
    }

    [Fact]
    public async Task Appliance_Status_ShowsEnvironmentAndReportsAMissingChipWithoutFailing()
    {
        var bus = Preload();
        await using (var app = await GpioCharacterDeviceTests.StartAppAsync("--Sensors:Bme280:Enabled=true", $"--Sensors:Bme280:Bus={bus}", "--Sensors:Bme280:Address=118"))
        {
            using var client = new HttpClient { BaseAddress = app.Address };
            JsonNode? environment = null;
            GuestKernel.WaitFor(() =>
            {
                environment = JsonNode.Parse(client.GetStringAsync(new Uri("/api/status", UriKind.Relative)).Result)!["environment"];
                return environment?["temperatureC"] is not null;
            }, TimeSpan.FromSeconds(20), "a BME280 reading in /api/status");
            Assert.Equal(25.08, environment!["temperatureC"]!.GetValue<double>(), 2);
            Assert.Equal(1006.53, environment["pressureHpa"]!.GetValue<double>(), 2);
            Assert.Null(environment["problem"]);
        }

        await using (var app = await GpioCharacterDeviceTests.StartAppAsync("--Sensors:Bme280:Enabled=true", $"--Sensors:Bme280:Bus={bus}", "--Sensors:Bme280:Address=119"))
        {
            using var client = new HttpClient { BaseAddress = app.Address };
            JsonNode? environment = null;
            GuestKernel.WaitFor(() =>
            {
                environment = JsonNode.Parse(client.GetStringAsync(new Uri("/api/status", UriKind.Relative)).Result)!["environment"];
                return environment?["problem"] is not null;
            }, TimeSpan.FromSeconds(20), "the missing chip reported in /api/status");
            Assert.Contains("0x77", environment!["problem"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/status", UriKind.Relative))).StatusCode);
        }
    }
}
