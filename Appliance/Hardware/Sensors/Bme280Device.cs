using Appliance.Hardware.Interop;
using Camera.Interop;

namespace Appliance.Hardware.Sensors;

/// <summary>
/// A BME280 on /dev/i2c-N, read with SMBus transfers (byte data and I2C block reads), which every Pi bus driver and
/// the kernel's i2c-stub support. Forced mode: one measurement per <see cref="Read"/>.
/// </summary>
internal sealed unsafe class Bme280Device : IDisposable
{
    internal const byte ChipIdRegister = 0xD0;
    internal const byte ChipId = 0x60;
    internal const byte Bmp280ChipId = 0x58;

    private readonly int _fd;
    private readonly string _path;
    private readonly Bme280Calibration _calibration;

    private Bme280Device(int fd, string path, Bme280Calibration calibration)
    {
        _fd = fd;
        _path = path;
        _calibration = calibration;
    }

    /// <summary>Opens the bus, checks the chip id, reads the calibration. Throws <see cref="IOException"/> saying what is wrong.</summary>
    public static Bme280Device Open(int bus, int address)
    {
        var path = $"/dev/i2c-{bus}";
        var fd = Libc.open(path, Libc.ReadWrite | Libc.CloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"{path}: {Libc.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())} (is I2C enabled, is i2c-dev loaded?)");
        }

        var where = $"{path} 0x{address:X2}";
        try
        {
            if (Libc.IoctlRetry(fd, I2cNative.SetSlaveAddress, (void*)address, out var errno) < 0)
            {
                throw new IOException($"{where}: cannot address the chip: {Libc.Describe(errno)}");
            }

            var id = ReadByte(fd, where, ChipIdRegister);
            if (id != ChipId)
            {
                throw new IOException(id == Bmp280ChipId
                    ? $"{where}: this is a BMP280 (chip id 0x58), which has no humidity sensor; a BME280 (0x60) is needed"
                    : $"{where}: chip id 0x{id:X2} is not a BME280 (0x60)");
            }

            Span<byte> block88 = stackalloc byte[26];
            Span<byte> blockE1 = stackalloc byte[7];
            ReadBlock(fd, where, 0x88, block88);
            ReadBlock(fd, where, 0xE1, blockE1);
            return new Bme280Device(fd, where, Bme280Calibration.Parse(block88, blockE1));
        }
        catch
        {
            Libc.close(fd);
            throw;
        }
    }

    public Bme280Calibration Calibration => _calibration;

    /// <summary>One forced measurement (oversampling x1): temperature °C, relative humidity %, pressure hPa.</summary>
    public (double TemperatureC, double HumidityPercent, double PressureHpa) Read()
    {
        WriteByte(_fd, _path, 0xF2, 0x01);
        WriteByte(_fd, _path, 0xF4, 0x25);
        Thread.Sleep(10);
        for (var i = 0; i < 10 && (ReadByte(_fd, _path, 0xF3) & 0x08) != 0; i++)
        {
            Thread.Sleep(5);
        }

        Span<byte> data = stackalloc byte[8];
        ReadBlock(_fd, _path, 0xF7, data);
        var (adcP, adcT, adcH) = Bme280Calibration.ParseRaw(data);
        var (celsius, tFine) = _calibration.CompensateTemperature(adcT);
        return (celsius, _calibration.CompensateHumidity(adcH, tFine), _calibration.CompensatePressure(adcP, tFine) / 100.0);
    }

    public void Dispose() => Libc.close(_fd);

    internal static byte ReadByte(int fd, string path, byte register)
    {
        var data = stackalloc byte[34];
        Transfer(fd, path, I2cNative.SmBusRead, register, I2cNative.SmBusByteData, data);
        return data[0];
    }

    internal static void WriteByte(int fd, string path, byte register, byte value)
    {
        var data = stackalloc byte[34];
        data[0] = value;
        Transfer(fd, path, I2cNative.SmBusWrite, register, I2cNative.SmBusByteData, data);
    }

    internal static void ReadBlock(int fd, string path, byte register, Span<byte> destination)
    {
        var data = stackalloc byte[34];
        data[0] = (byte)destination.Length;
        Transfer(fd, path, I2cNative.SmBusRead, register, I2cNative.SmBusI2cBlockData, data);
        new ReadOnlySpan<byte>(data + 1, destination.Length).CopyTo(destination);
    }

    private static void Transfer(int fd, string path, byte direction, byte register, uint size, byte* data)
    {
        var request = new I2cSmBusIoctlData { ReadWrite = direction, Command = register, Size = size, Data = data };
        if (Libc.IoctlRetry(fd, I2cNative.SmBus, &request, out var errno) < 0)
        {
            throw new IOException($"{path}: I2C transfer at register 0x{register:X2} failed: {Libc.Describe(errno)} (no chip at this address?)");
        }
    }
}
