using System.Device.I2c;
using System.Runtime.InteropServices;
using Appliance.Hardware.Interop;
using Appliance.Interop;
using Tmds.Linux;

namespace Appliance.Hardware.I2c;

/// <summary>
/// An <see cref="I2cDevice"/> for adapters that only speak SMBus (no I2C_FUNC_I2C: the kernel's i2c-stub, some USB and
/// SoC adapters), where System.Device.Gpio's UnixI2cDevice fails (it sends I2C_RDWR: EOPNOTSUPP, error 95). Ours
/// because System.Device.Gpio has no SMBus path. The bindings' register patterns map to SMBus transfers:
/// <list type="bullet">
/// <item>a one-byte write (the register pointer, or a command such as BH1750's) is an SMBus "send byte", and the
/// register is remembered;</item>
/// <item>a read right after it, or a <see cref="WriteRead"/> with a one-byte write, is an SMBus I2C-block read from that
/// register (32 bytes per transfer, the register advancing as the chip auto-increments);</item>
/// <item>a two-byte write is "write byte data", longer writes are I2C-block writes (register = first byte);</item>
/// <item>a read with no register remembered is a series of "receive byte" transfers (right for auto-incrementing
/// register chips; a chip needing one multi-byte read without a register cannot be read over SMBus at all).</item>
/// </list>
/// </summary>
internal sealed unsafe class SmBusI2cDevice : I2cDevice
{
    private readonly int _fd;
    private readonly string _where;
    private int? _register;
    private bool _disposed;

    private SmBusI2cDevice(int fd, I2cConnectionSettings settings)
    {
        _fd = fd;
        ConnectionSettings = settings;
        _where = $"/dev/i2c-{settings.BusId} 0x{settings.DeviceAddress:X2}";
    }

    public override I2cConnectionSettings ConnectionSettings { get; }

    /// <summary>
    /// The device at <paramref name="settings"/>: System.Device.Gpio's own when the adapter speaks plain I2C, this
    /// SMBus one otherwise. Throws <see cref="IOException"/> saying what is wrong (no bus, no i2c-dev, no access).
    /// </summary>
    public static I2cDevice CreateForAdapter(I2cConnectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var functions = Functions(settings.BusId);
        if ((functions & I2cNative.FunctionI2c) != 0)
        {
            return I2cDevice.Create(settings);
        }

        if ((functions & (I2cNative.FunctionSmBusReadI2cBlock | I2cNative.FunctionSmBusWriteI2cBlock)) == 0)
        {
            throw new IOException($"/dev/i2c-{settings.BusId}: the adapter speaks neither plain I2C nor SMBus I2C-block transfers (functions 0x{functions:X}).");
        }

        return Open(settings);
    }

    /// <summary>The adapter's I2C_FUNCS bits.</summary>
    public static ulong Functions(int bus)
    {
        var path = $"/dev/i2c-{bus}";
        var fd = Libc.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"{path}: {Libc.Describe(Marshal.GetLastPInvokeError())} (is I2C enabled, is i2c-dev loaded?)");
        }

        try
        {
            ulong functions;
            return Libc.IoctlRetry(fd, I2cNative.GetFunctions, &functions, out var errno) < 0
                ? throw new IOException($"{path}: I2C_FUNCS failed: {Libc.Describe(errno)}")
                : functions;
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }

    /// <summary>Always the SMBus device (tests compare both paths on one adapter).</summary>
    public static SmBusI2cDevice Open(I2cConnectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var path = $"/dev/i2c-{settings.BusId}";
        var fd = Libc.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"{path}: {Libc.Describe(Marshal.GetLastPInvokeError())} (is I2C enabled, is i2c-dev loaded?)");
        }

        if (Libc.IoctlRetry(fd, I2cNative.SetSlaveAddress, (void*)settings.DeviceAddress, out var errno) < 0)
        {
            _ = LibC.close(fd);
            throw new IOException($"{path} 0x{settings.DeviceAddress:X2}: cannot address the chip: {Libc.Describe(errno)}");
        }

        return new SmBusI2cDevice(fd, settings);
    }

    public override byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public override void Read(Span<byte> buffer)
    {
        var data = stackalloc byte[34];
        if (_register is not { } register)
        {
            for (var i = 0; i < buffer.Length; i++)
            {
                Transfer(I2cNative.SmBusRead, 0, I2cNative.SmBusByte, data);
                buffer[i] = data[0];
            }

            return;
        }

        _register = null;
        for (var offset = 0; offset < buffer.Length; offset += I2cNative.SmBusBlockMax)
        {
            var length = Math.Min(I2cNative.SmBusBlockMax, buffer.Length - offset);
            data[0] = (byte)length;
            Transfer(I2cNative.SmBusRead, (byte)(register + offset), I2cNative.SmBusI2cBlockData, data);
            new ReadOnlySpan<byte>(data + 1, length).CopyTo(buffer[offset..]);
        }
    }

    public override void WriteByte(byte value)
    {
        var data = stackalloc byte[34];
        Transfer(I2cNative.SmBusWrite, value, I2cNative.SmBusByte, data);
        _register = value;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var data = stackalloc byte[34];
        switch (buffer.Length)
        {
            case 0:
                Transfer(I2cNative.SmBusWrite, 0, I2cNative.SmBusQuick, data);
                _register = null;
                return;
            case 1:
                WriteByte(buffer[0]);
                return;
            case 2:
                data[0] = buffer[1];
                Transfer(I2cNative.SmBusWrite, buffer[0], I2cNative.SmBusByteData, data);
                break;
            default:
                for (var offset = 1; offset < buffer.Length; offset += I2cNative.SmBusBlockMax)
                {
                    var length = Math.Min(I2cNative.SmBusBlockMax, buffer.Length - offset);
                    data[0] = (byte)length;
                    buffer.Slice(offset, length).CopyTo(new Span<byte>(data + 1, length));
                    Transfer(I2cNative.SmBusWrite, (byte)(buffer[0] + offset - 1), I2cNative.SmBusI2cBlockData, data);
                }

                break;
        }

        _register = null;
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        if (writeBuffer.Length == 1)
        {
            // One transfer with the register, no separate pointer write.
            _register = writeBuffer[0];
        }
        else
        {
            Write(writeBuffer);
        }

        Read(readBuffer);
    }

    private void Transfer(byte direction, byte command, uint size, byte* data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var request = new I2cSmBusIoctlData { ReadWrite = direction, Command = command, Size = size, Data = data };
        if (Libc.IoctlRetry(_fd, I2cNative.SmBus, &request, out var errno) < 0)
        {
            throw new IOException($"{_where}: SMBus transfer at register 0x{command:X2} failed: {Libc.Describe(errno)} (no chip at this address?)");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            _disposed = true;
            _ = LibC.close(_fd);
        }

        base.Dispose(disposing);
    }
}
