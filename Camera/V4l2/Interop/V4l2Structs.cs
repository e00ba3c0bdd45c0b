using System.Runtime.InteropServices;

namespace Camera.V4l2.Interop;

// Layouts of <linux/videodev2.h> on 64-bit Linux (x86_64 and arm64 are identical); sizes are pinned by unit tests
// through the ioctl numbers. Only the fields the driver reads or writes are named.
#pragma warning disable CA1051, SA1307 // native structs: public fields, kernel names

[StructLayout(LayoutKind.Explicit, Size = 104)]
internal unsafe struct V4l2Capability
{
    [FieldOffset(0)] public fixed byte Driver[16];
    [FieldOffset(16)] public fixed byte Card[32];
    [FieldOffset(48)] public fixed byte BusInfo[32];
    [FieldOffset(80)] public uint Version;
    [FieldOffset(84)] public uint Capabilities;
    [FieldOffset(88)] public uint DeviceCaps;
}

[StructLayout(LayoutKind.Explicit, Size = 64)]
internal unsafe struct V4l2FmtDesc
{
    [FieldOffset(0)] public uint Index;
    [FieldOffset(4)] public uint Type;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(12)] public fixed byte Description[32];
    [FieldOffset(44)] public uint PixelFormat;
}

[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct V4l2PixFormat
{
    [FieldOffset(0)] public uint Width;
    [FieldOffset(4)] public uint Height;
    [FieldOffset(8)] public uint PixelFormat;
    [FieldOffset(12)] public uint Field;
    [FieldOffset(16)] public uint BytesPerLine;
    [FieldOffset(20)] public uint SizeImage;
}

/// <summary>struct v4l2_format: type, then a 200-byte union aligned to 8 (it holds pointers in other members).</summary>
[StructLayout(LayoutKind.Explicit, Size = 208)]
internal struct V4l2Format
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(8)] public V4l2PixFormat Pix;
}

[StructLayout(LayoutKind.Explicit, Size = 44)]
internal struct V4l2FrmSizeEnum
{
    [FieldOffset(0)] public uint Index;
    [FieldOffset(4)] public uint PixelFormat;
    [FieldOffset(8)] public uint Type;

    // discrete: width, height; stepwise: min_width, max_width, step_width, min_height, max_height, step_height.
    [FieldOffset(12)] public uint Width;
    [FieldOffset(16)] public uint Height;
    [FieldOffset(12)] public uint MinWidth;
    [FieldOffset(16)] public uint MaxWidth;
    [FieldOffset(20)] public uint StepWidth;
    [FieldOffset(24)] public uint MinHeight;
    [FieldOffset(28)] public uint MaxHeight;
    [FieldOffset(32)] public uint StepHeight;
}

[StructLayout(LayoutKind.Explicit, Size = 52)]
internal struct V4l2FrmIvalEnum
{
    [FieldOffset(0)] public uint Index;
    [FieldOffset(4)] public uint PixelFormat;
    [FieldOffset(8)] public uint Width;
    [FieldOffset(12)] public uint Height;
    [FieldOffset(16)] public uint Type;

    // discrete: numerator, denominator; stepwise: min (num, den), max (num, den), step (num, den).
    [FieldOffset(20)] public uint Numerator;
    [FieldOffset(24)] public uint Denominator;
    [FieldOffset(28)] public uint MaxNumerator;
    [FieldOffset(32)] public uint MaxDenominator;
    [FieldOffset(36)] public uint StepNumerator;
    [FieldOffset(40)] public uint StepDenominator;
}

[StructLayout(LayoutKind.Explicit, Size = 204)]
internal struct V4l2StreamParm
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Capability;
    [FieldOffset(8)] public uint CaptureMode;
    [FieldOffset(12)] public uint TimePerFrameNumerator;
    [FieldOffset(16)] public uint TimePerFrameDenominator;
}

[StructLayout(LayoutKind.Explicit, Size = 20)]
internal struct V4l2RequestBuffers
{
    [FieldOffset(0)] public uint Count;
    [FieldOffset(4)] public uint Type;
    [FieldOffset(8)] public uint Memory;
}

[StructLayout(LayoutKind.Explicit, Size = 88)]
internal struct V4l2Buffer
{
    [FieldOffset(0)] public uint Index;
    [FieldOffset(4)] public uint Type;
    [FieldOffset(8)] public uint BytesUsed;
    [FieldOffset(12)] public uint Flags;
    [FieldOffset(16)] public uint Field;
    [FieldOffset(24)] public long TimestampSeconds;
    [FieldOffset(32)] public long TimestampMicroseconds;
    [FieldOffset(56)] public uint Sequence;
    [FieldOffset(60)] public uint Memory;
    [FieldOffset(64)] public uint Offset;
    [FieldOffset(72)] public uint Length;
}

[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct V4l2Control
{
    [FieldOffset(0)] public uint Id;
    [FieldOffset(4)] public int Value;
}

[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct V4l2ExportBuffer
{
    [FieldOffset(0)] public uint Type;
}
