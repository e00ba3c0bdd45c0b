using Appliance.Interop;

namespace Appliance.Hardware.Interop;

/// <summary>GPIO character device uAPI v2 ioctl numbers (computed from struct sizes) and constants.</summary>
internal static unsafe class GpioNative
{
    internal const int MaxLineAttributes = 10;

    internal static readonly uint GetChipInfo = Libc.IoRead((char)0xB4, 0x01, sizeof(GpioChipInfo));
    internal static readonly uint GetLineInfo = Libc.IoReadWrite((char)0xB4, 0x05, sizeof(GpioLineInfo));
    internal static readonly uint GetLineInfoWatch = Libc.IoReadWrite((char)0xB4, 0x06, sizeof(GpioLineInfo));
    internal static readonly uint GetLine = Libc.IoReadWrite((char)0xB4, 0x07, sizeof(GpioLineRequest));
    internal static readonly uint SetConfig = Libc.IoReadWrite((char)0xB4, 0x0D, sizeof(GpioLineConfig));
    internal static readonly uint GetValues = Libc.IoReadWrite((char)0xB4, 0x0E, sizeof(GpioLineValues));
    internal static readonly uint SetValues = Libc.IoReadWrite((char)0xB4, 0x0F, sizeof(GpioLineValues));

    internal const ulong FlagUsed = 0x1;
    internal const ulong FlagActiveLow = 0x2;
    internal const ulong FlagInput = 0x4;
    internal const ulong FlagOutput = 0x8;
    internal const ulong FlagEdgeRising = 0x10;
    internal const ulong FlagEdgeFalling = 0x20;
    internal const ulong FlagOpenDrain = 0x40;
    internal const ulong FlagBiasPullUp = 0x100;
    internal const ulong FlagBiasPullDown = 0x200;
    internal const ulong FlagBiasDisabled = 0x400;

    internal const uint AttributeFlags = 1;
    internal const uint AttributeOutputValues = 2;
    internal const uint AttributeDebounce = 3;

    internal const uint EventRisingEdge = 1;
    internal const uint EventFallingEdge = 2;
}
