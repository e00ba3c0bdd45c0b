using System.Buffers.Binary;

namespace Appliance.Hardware.Sensors;

/// <summary>
/// The BME280's factory trimming parameters and the datasheet's floating-point compensation (Bosch BME280
/// datasheet, section 8.1). Registers 0x88–0x9F and 0xA1 hold dig_T*/dig_P*/dig_H1; 0xE1–0xE7 the rest of dig_H*.
/// </summary>
internal sealed record Bme280Calibration(
    ushort T1, short T2, short T3,
    ushort P1, short P2, short P3, short P4, short P5, short P6, short P7, short P8, short P9,
    byte H1, short H2, byte H3, short H4, short H5, sbyte H6)
{
    /// <summary>Parses 0x88..0xA1 (26 bytes) and 0xE1..0xE7 (7 bytes).</summary>
    public static Bme280Calibration Parse(ReadOnlySpan<byte> block88, ReadOnlySpan<byte> blockE1)
    {
        if (block88.Length < 26 || blockE1.Length < 7)
        {
            throw new ArgumentException("calibration blocks are 26 bytes from 0x88 and 7 bytes from 0xE1");
        }

        return new Bme280Calibration(
            U(block88, 0), S(block88, 2), S(block88, 4),
            U(block88, 6), S(block88, 8), S(block88, 10), S(block88, 12), S(block88, 14), S(block88, 16), S(block88, 18), S(block88, 20), S(block88, 22),
            block88[25],
            BinaryPrimitives.ReadInt16LittleEndian(blockE1),
            blockE1[2],
            (short)(((sbyte)blockE1[3] << 4) | (blockE1[4] & 0x0F)),
            (short)(((sbyte)blockE1[5] << 4) | (blockE1[4] >> 4)),
            (sbyte)blockE1[6]);
    }

    private static ushort U(ReadOnlySpan<byte> block, int at) => BinaryPrimitives.ReadUInt16LittleEndian(block[at..]);

    private static short S(ReadOnlySpan<byte> block, int at) => BinaryPrimitives.ReadInt16LittleEndian(block[at..]);

    /// <summary>Raw ADC values from the 8 data bytes at 0xF7 (press msb/lsb/xlsb, temp msb/lsb/xlsb, hum msb/lsb).</summary>
    public static (int Pressure, int Temperature, int Humidity) ParseRaw(ReadOnlySpan<byte> data) =>
        ((data[0] << 12) | (data[1] << 4) | (data[2] >> 4),
         (data[3] << 12) | (data[4] << 4) | (data[5] >> 4),
         (data[6] << 8) | data[7]);

    /// <summary>Temperature in °C and t_fine (the value pressure and humidity compensation need).</summary>
    public (double Celsius, double TFine) CompensateTemperature(int adcT)
    {
        var var1 = ((adcT / 16384.0) - (T1 / 1024.0)) * T2;
        var d = (adcT / 131072.0) - (T1 / 8192.0);
        var var2 = d * d * T3;
        // The datasheet's C code truncates t_fine to an integer; its worked example (100653.27 Pa) keeps the
        // fraction. The difference is below 0.01 Pa; keep the fraction and match the worked example.
        return ((var1 + var2) / 5120.0, var1 + var2);
    }

    /// <summary>Pressure in Pa; 0 when the calibration would divide by zero.</summary>
    public double CompensatePressure(int adcP, double tFine)
    {
        var var1 = (tFine / 2.0) - 64000.0;
        var var2 = var1 * var1 * P6 / 32768.0;
        var2 += var1 * P5 * 2.0;
        var2 = (var2 / 4.0) + (P4 * 65536.0);
        var1 = ((P3 * var1 * var1 / 524288.0) + (P2 * var1)) / 524288.0;
        var1 = (1.0 + (var1 / 32768.0)) * P1;
        if (var1 == 0.0)
        {
            return 0;
        }

        var p = 1048576.0 - adcP;
        p = (p - (var2 / 4096.0)) * 6250.0 / var1;
        var1 = P9 * p * p / 2147483648.0;
        var2 = p * P8 / 32768.0;
        return p + ((var1 + var2 + P7) / 16.0);
    }

    /// <summary>Relative humidity in %, clamped to 0–100.</summary>
    public double CompensateHumidity(int adcH, double tFine)
    {
        var h = tFine - 76800.0;
        h = (adcH - ((H4 * 64.0) + (H5 / 16384.0 * h))) *
            (H2 / 65536.0 * (1.0 + (H6 / 67108864.0 * h * (1.0 + (H3 / 67108864.0 * h)))));
        h *= 1.0 - (H1 * h / 524288.0);
        return Math.Clamp(h, 0.0, 100.0);
    }
}
