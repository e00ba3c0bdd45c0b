using System.Runtime.InteropServices;
using Appliance.Hardware.Interop;

namespace Appliance.Tests.Hardware;

/// <summary>Pins the GPIO uAPI v2 and i2c-dev ioctl numbers and struct layouts to the reference table.</summary>
public sealed unsafe class HardwareInteropTests
{
    public static TheoryData<string, uint, uint> IoctlNumbers() => new()
    {
        { "GPIO_GET_CHIPINFO_IOCTL", GpioNative.GetChipInfo, 0x8044B401 },
        { "GPIO_V2_GET_LINEINFO_IOCTL", GpioNative.GetLineInfo, 0xC100B405 },
        { "GPIO_V2_GET_LINEINFO_WATCH_IOCTL", GpioNative.GetLineInfoWatch, 0xC100B406 },
        { "GPIO_V2_GET_LINE_IOCTL", GpioNative.GetLine, 0xC250B407 },
        { "GPIO_V2_LINE_SET_CONFIG_IOCTL", GpioNative.SetConfig, 0xC110B40D },
        { "GPIO_V2_LINE_GET_VALUES_IOCTL", GpioNative.GetValues, 0xC010B40E },
        { "GPIO_V2_LINE_SET_VALUES_IOCTL", GpioNative.SetValues, 0xC010B40F },
        { "I2C_SLAVE", I2cNative.SetSlaveAddress, 0x0703 },
        { "I2C_FUNCS", I2cNative.GetFunctions, 0x0705 },
        { "I2C_RDWR", I2cNative.ReadWrite, 0x0707 },
        { "I2C_SMBUS", I2cNative.SmBus, 0x0720 },
    };

    [Theory]
    [MemberData(nameof(IoctlNumbers))]
    public void IoctlNumber_MatchesKernelHeaders(string name, uint actual, uint expected) =>
        Assert.True(expected == actual, $"{name}: 0x{actual:X8}, kernel has 0x{expected:X8}");

    [Fact]
    public void StructSizes_MatchKernelHeaders()
    {
        Assert.Equal(68, sizeof(GpioChipInfo));
        Assert.Equal(16, sizeof(GpioLineAttribute));
        Assert.Equal(24, sizeof(GpioLineConfigAttribute));
        Assert.Equal(272, sizeof(GpioLineConfig));
        Assert.Equal(592, sizeof(GpioLineRequest));
        Assert.Equal(16, sizeof(GpioLineValues));
        Assert.Equal(256, sizeof(GpioLineInfo));
        Assert.Equal(48, sizeof(GpioLineEvent));
        Assert.Equal(16, sizeof(I2cSmBusIoctlData));
    }

    [Theory]
    [InlineData(typeof(GpioChipInfo), "Lines", 64)]
    [InlineData(typeof(GpioLineConfigAttribute), "Mask", 16)]
    [InlineData(typeof(GpioLineConfig), "NumAttributes", 8)]
    [InlineData(typeof(GpioLineConfig), "Attributes", 32)]
    [InlineData(typeof(GpioLineRequest), "Config", 288)]
    [InlineData(typeof(GpioLineRequest), "NumLines", 560)]
    [InlineData(typeof(GpioLineRequest), "EventBufferSize", 564)]
    [InlineData(typeof(GpioLineRequest), "Fd", 588)]
    [InlineData(typeof(GpioLineEvent), "Id", 8)]
    [InlineData(typeof(GpioLineEvent), "Offset", 12)]
    [InlineData(typeof(GpioLineEvent), "Seqno", 16)]
    [InlineData(typeof(GpioLineEvent), "LineSeqno", 20)]
    [InlineData(typeof(I2cSmBusIoctlData), "Size", 4)]
    [InlineData(typeof(I2cSmBusIoctlData), "Data", 8)]
    public void FieldOffset_MatchesKernelHeaders(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void LineRequest_ConsumerField_StartsAt256()
    {
        var request = default(GpioLineRequest);
        Assert.Equal(256, (int)((byte*)request.Consumer - (byte*)&request));
    }
}
