using System.Runtime.InteropServices;

namespace Appliance.Hardware.Interop;

#pragma warning disable CA1051 // native structs: public fields

/// <summary>i2c-dev ioctls and SMBus transfer kinds (<linux/i2c-dev.h>, <linux/i2c.h>).</summary>
internal static class I2cNative
{
    internal const uint SetSlaveAddress = 0x0703;
    internal const uint GetFunctions = 0x0705;
    internal const uint ReadWrite = 0x0707;
    internal const uint SmBus = 0x0720;

    internal const byte SmBusWrite = 0;
    internal const byte SmBusRead = 1;
    internal const uint SmBusQuick = 0;
    internal const uint SmBusByte = 1;
    internal const uint SmBusByteData = 2;
    internal const uint SmBusI2cBlockData = 8;
    internal const int SmBusBlockMax = 32;

    /// <summary>I2C_FUNCS bits: plain I2C messages (I2C_RDWR), SMBus I2C-block read and write.</summary>
    internal const ulong FunctionI2c = 0x1;
    internal const ulong FunctionSmBusReadI2cBlock = 0x04000000;
    internal const ulong FunctionSmBusWriteI2cBlock = 0x08000000;
}

/// <summary>struct i2c_smbus_ioctl_data: read_write, command, size, pointer to union i2c_smbus_data (34 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal unsafe struct I2cSmBusIoctlData
{
    [FieldOffset(0)] public byte ReadWrite;
    [FieldOffset(1)] public byte Command;
    [FieldOffset(4)] public uint Size;
    [FieldOffset(8)] public byte* Data;
}
