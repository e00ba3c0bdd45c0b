using Appliance.Hardware.Sensors;

namespace Appliance.Tests.Hardware;

public sealed class Bme280CalibrationTests
{
    // Bosch's worked example (BMP280 datasheet section 3.12; the BME280 uses the same T and P formulas).
    private static readonly Bme280Calibration Example = new(
        27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
        75, 362, 0, 324, 50, 30);

    [Fact]
    public void CompensateTemperature_DatasheetExample_Gives25Point08()
    {
        var (celsius, tFine) = Example.CompensateTemperature(519888);
        Assert.Equal(25.08, celsius, 2);
        Assert.Equal(128422.287, tFine, 3);
    }

    [Fact]
    public void CompensatePressure_DatasheetExample_Gives100653Pa()
    {
        var (_, tFine) = Example.CompensateTemperature(519888);
        Assert.Equal(100653.27, Example.CompensatePressure(415148, tFine), 2);
    }

    [Theory]
    [InlineData(30000)]
    [InlineData(25000)]
    [InlineData(35000)]
    public void CompensateHumidity_AgreesWithTheDatasheetIntegerFormula(int adcH)
    {
        var (_, tFine) = Example.CompensateTemperature(519888);
        var expected = IntegerHumidity(Example, adcH, (int)tFine) / 1024.0;
        Assert.Equal(expected, Example.CompensateHumidity(adcH, tFine), 1);
    }

    [Fact]
    public void CompensateHumidity_OutOfRange_ClampsTo0And100()
    {
        var (_, tFine) = Example.CompensateTemperature(519888);
        Assert.Equal(0.0, Example.CompensateHumidity(0, tFine));
        Assert.Equal(100.0, Example.CompensateHumidity(65535, tFine));
    }

    [Fact]
    public void Parse_RegisterBlocks_SplitsTheNibblePackedHumidityValues()
    {
        var block88 = new byte[26];
        BitConverter.TryWriteBytes(block88.AsSpan(0), (ushort)27504);
        BitConverter.TryWriteBytes(block88.AsSpan(16), (short)-7);
        block88[25] = 75;

        // H4 = -12 (0xFF4 as 12-bit signed: E4 = 0xFF, low nibble 4), H5 = 50 (E5 high nibble 2, E6 = 3).
        byte[] blockE1 = [0x6A, 0x01, 0x00, 0xFF, 0x24, 0x03, 0xE2];
        var calibration = Bme280Calibration.Parse(block88, blockE1);
        Assert.Equal(27504, calibration.T1);
        Assert.Equal(-7, calibration.P6);
        Assert.Equal(75, calibration.H1);
        Assert.Equal(362, calibration.H2);
        Assert.Equal(-12, calibration.H4);
        Assert.Equal(50, calibration.H5);
        Assert.Equal(-30, calibration.H6);
    }

    [Fact]
    public void ParseRaw_DataRegisters_Gives20BitAnd16BitValues()
    {
        byte[] data = [0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30];
        Assert.Equal((415148, 519888, 30000), Bme280Calibration.ParseRaw(data));
    }

    /// <summary>The datasheet's 32-bit integer humidity compensation (section 4.2.3), as an independent oracle; %RH x 1024.</summary>
    private static uint IntegerHumidity(Bme280Calibration c, int adcH, int tFine)
    {
        var v = tFine - 76800;
        v = (((adcH << 14) - (c.H4 << 20) - (c.H5 * v) + 16384) >> 15) *
            (((((((v * c.H6) >> 10) * (((v * c.H3) >> 11) + 32768)) >> 10) + 2097152) * c.H2 + 8192) >> 14);
        v -= ((((v >> 15) * (v >> 15)) >> 7) * c.H1) >> 4;
        v = Math.Clamp(v, 0, 419430400);
        return (uint)(v >> 12);
    }
}
