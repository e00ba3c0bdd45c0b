using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Hardware.Interop;

// Layouts of <linux/gpio.h> (uAPI v2) on 64-bit Linux; sizes are pinned by unit tests through the ioctl numbers.
#pragma warning disable CA1051 // native structs: public fields

[StructLayout(LayoutKind.Explicit, Size = 68)]
internal unsafe struct GpioChipInfo
{
    [FieldOffset(0)] public fixed byte Name[32];
    [FieldOffset(32)] public fixed byte Label[32];
    [FieldOffset(64)] public uint Lines;
}

/// <summary>gpio_v2_line_attribute: id, then a union of flags / values / debounce_period_us.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct GpioLineAttribute
{
    [FieldOffset(0)] public uint Id;
    [FieldOffset(8)] public ulong Flags;
    [FieldOffset(8)] public ulong Values;
    [FieldOffset(8)] public uint DebouncePeriodMicroseconds;
}

[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct GpioLineConfigAttribute
{
    [FieldOffset(0)] public GpioLineAttribute Attribute;
    [FieldOffset(16)] public ulong Mask;
}

[StructLayout(LayoutKind.Explicit, Size = 272)]
internal struct GpioLineConfig
{
    [FieldOffset(0)] public ulong Flags;
    [FieldOffset(8)] public uint NumAttributes;
    [FieldOffset(32)] public GpioLineConfigAttributes Attributes;
}

[InlineArray(GpioNative.MaxLineAttributes)]
internal struct GpioLineConfigAttributes
{
    private GpioLineConfigAttribute _element;
}

[StructLayout(LayoutKind.Explicit, Size = 592)]
internal unsafe struct GpioLineRequest
{
    [FieldOffset(0)] public fixed uint Offsets[64];
    [FieldOffset(256)] public fixed byte Consumer[32];
    [FieldOffset(288)] public GpioLineConfig Config;
    [FieldOffset(560)] public uint NumLines;
    [FieldOffset(564)] public uint EventBufferSize;
    [FieldOffset(588)] public int Fd;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct GpioLineValues
{
    [FieldOffset(0)] public ulong Bits;
    [FieldOffset(8)] public ulong Mask;
}

[StructLayout(LayoutKind.Explicit, Size = 256)]
internal unsafe struct GpioLineInfo
{
    [FieldOffset(0)] public fixed byte Name[32];
    [FieldOffset(32)] public fixed byte Consumer[32];
    [FieldOffset(64)] public uint Offset;
    [FieldOffset(68)] public uint NumAttributes;
    [FieldOffset(72)] public ulong Flags;
}

[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct GpioLineEvent
{
    [FieldOffset(0)] public ulong TimestampNanoseconds;
    [FieldOffset(8)] public uint Id;
    [FieldOffset(12)] public uint Offset;
    [FieldOffset(16)] public uint Seqno;
    [FieldOffset(20)] public uint LineSeqno;
}
