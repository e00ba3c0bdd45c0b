using System.Runtime.InteropServices;
using Camera.V4l2.Interop;

namespace Camera.Tests.V4l2;

/// <summary>Pins every V4L2 ioctl number and struct layout to the reference table (64-bit Linux, x86_64 = arm64).</summary>
public sealed unsafe class V4l2InteropTests
{
    public static TheoryData<string, uint, uint> IoctlNumbers() => new()
    {
        { "QUERYCAP", V4l2Native.QueryCap, 0x80685600 },
        { "ENUM_FMT", V4l2Native.EnumFmt, 0xC0405602 },
        { "G_FMT", V4l2Native.GetFmt, 0xC0D05604 },
        { "S_FMT", V4l2Native.SetFmt, 0xC0D05605 },
        { "TRY_FMT", V4l2Native.TryFmt, 0xC0D05640 },
        { "G_PARM", V4l2Native.GetParm, 0xC0CC5615 },
        { "S_PARM", V4l2Native.SetParm, 0xC0CC5616 },
        { "G_CTRL", V4l2Native.GetCtrl, 0xC008561B },
        { "S_CTRL", V4l2Native.SetCtrl, 0xC008561C },
        { "REQBUFS", V4l2Native.ReqBufs, 0xC0145608 },
        { "QUERYBUF", V4l2Native.QueryBuf, 0xC0585609 },
        { "QBUF", V4l2Native.QBuf, 0xC058560F },
        { "DQBUF", V4l2Native.DQBuf, 0xC0585611 },
        { "STREAMON", V4l2Native.StreamOn, 0x40045612 },
        { "STREAMOFF", V4l2Native.StreamOff, 0x40045613 },
        { "ENUM_FRAMESIZES", V4l2Native.EnumFrameSizes, 0xC02C564A },
        { "ENUM_FRAMEINTERVALS", V4l2Native.EnumFrameIntervals, 0xC034564B },
        { "EXPBUF", V4l2Native.ExpBuf, 0xC0405610 },
    };

    [Theory]
    [MemberData(nameof(IoctlNumbers))]
    public void IoctlNumber_MatchesKernelHeaders(string name, uint actual, uint expected) =>
        Assert.True(expected == actual, $"VIDIOC_{name}: 0x{actual:X8}, kernel has 0x{expected:X8}");

    [Fact]
    public void StructSizes_MatchKernelHeaders()
    {
        Assert.Equal(104, sizeof(V4l2Capability));
        Assert.Equal(64, sizeof(V4l2FmtDesc));
        Assert.Equal(208, sizeof(V4l2Format));
        Assert.Equal(48, sizeof(V4l2PixFormat));
        Assert.Equal(44, sizeof(V4l2FrmSizeEnum));
        Assert.Equal(52, sizeof(V4l2FrmIvalEnum));
        Assert.Equal(204, sizeof(V4l2StreamParm));
        Assert.Equal(20, sizeof(V4l2RequestBuffers));
        Assert.Equal(88, sizeof(V4l2Buffer));
    }

    [Theory]
    [InlineData(typeof(V4l2Capability), "Version", 80)]
    [InlineData(typeof(V4l2Capability), "Capabilities", 84)]
    [InlineData(typeof(V4l2Capability), "DeviceCaps", 88)]
    [InlineData(typeof(V4l2FmtDesc), "PixelFormat", 44)]
    [InlineData(typeof(V4l2Format), "Pix", 8)]
    [InlineData(typeof(V4l2PixFormat), "BytesPerLine", 16)]
    [InlineData(typeof(V4l2PixFormat), "SizeImage", 20)]
    [InlineData(typeof(V4l2StreamParm), "TimePerFrameNumerator", 12)]
    [InlineData(typeof(V4l2StreamParm), "TimePerFrameDenominator", 16)]
    [InlineData(typeof(V4l2Buffer), "BytesUsed", 8)]
    [InlineData(typeof(V4l2Buffer), "TimestampSeconds", 24)]
    [InlineData(typeof(V4l2Buffer), "Sequence", 56)]
    [InlineData(typeof(V4l2Buffer), "Memory", 60)]
    [InlineData(typeof(V4l2Buffer), "Offset", 64)]
    [InlineData(typeof(V4l2Buffer), "Length", 72)]
    [InlineData(typeof(V4l2FrmIvalEnum), "Numerator", 20)]
    [InlineData(typeof(V4l2FrmIvalEnum), "MaxNumerator", 28)]
    [InlineData(typeof(V4l2FrmIvalEnum), "StepNumerator", 36)]
    [InlineData(typeof(V4l2FrmIvalEnum), "StepDenominator", 40)]
    public void FieldOffset_MatchesKernelHeaders(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void FourCc_Constants_SpellTheirNames()
    {
        Assert.Equal("MJPG", V4l2Native.FourCc(V4l2Native.PixMjpeg));
        Assert.Equal("JPEG", V4l2Native.FourCc(V4l2Native.PixJpeg));
        Assert.Equal("YUYV", V4l2Native.FourCc(V4l2Native.PixYuyv));
        Assert.Equal("UYVY", V4l2Native.FourCc(V4l2Native.PixUyvy));
        Assert.Equal("NV12", V4l2Native.FourCc(V4l2Native.PixNv12));
        Assert.Equal("YU12", V4l2Native.FourCc(V4l2Native.PixYu12));
    }
}
