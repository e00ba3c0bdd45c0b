using System.Device.I2c;

namespace Appliance.Tests.Hardware;

/// <summary>
/// An <see cref="I2cDevice"/> that behaves like a chip on the bus, for driving Iot.Device.Bindings without hardware
/// (as dotnet/iot's own tests do). Register chips: a write's first byte sets the register pointer, later bytes are
/// stored from there, reads return registers from the pointer on (auto-increment). Command chips (SHT3x, BH1750):
/// <see cref="OnWrite"/> sees each write and may set <see cref="Response"/>, which reads then return.
/// <see cref="Missing"/> makes every transfer fail as a chip that does not answer its address.
/// </summary>
internal sealed class SimulatedI2cChip(int bus, int address) : I2cDevice
{
    public byte[] Registers { get; } = new byte[256];

    public byte[]? Response { get; set; }

    public Action<SimulatedI2cChip, byte[]>? OnWrite { get; set; }

    public bool Missing { get; set; }

    public bool Disposed { get; private set; }

    public List<byte[]> Writes { get; } = [];

    public override I2cConnectionSettings ConnectionSettings { get; } = new(bus, address);

    private byte _pointer;

    public override byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public override void Read(Span<byte> buffer)
    {
        Answer();
        if (Response is { } response)
        {
            response.AsSpan(0, Math.Min(response.Length, buffer.Length)).CopyTo(buffer);
            return;
        }

        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = Registers[_pointer++];
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Answer();
        var bytes = buffer.ToArray();
        Writes.Add(bytes);
        OnWrite?.Invoke(this, bytes);
        if (Response is null && bytes.Length > 0)
        {
            _pointer = bytes[0];
            foreach (var b in bytes.AsSpan(1))
            {
                Registers[_pointer++] = b;
            }
        }
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Write(writeBuffer);
        Read(readBuffer);
    }

    private void Answer()
    {
        if (Missing)
        {
            throw new IOException($"/dev/i2c-{ConnectionSettings.BusId} 0x{ConnectionSettings.DeviceAddress:X2}: Error 6 (ENXIO): no chip answers");
        }
    }

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}
