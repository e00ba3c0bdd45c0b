using Appliance.Interop;

namespace Camera.V4l2.Interop;

/// <summary>V4L2 ioctl numbers (computed from the struct sizes, so a wrong size shows as a wrong number) and constants.</summary>
internal static unsafe class V4l2Native
{
    internal static readonly uint QueryCap = Libc.IoRead('V', 0, sizeof(V4l2Capability));
    internal static readonly uint EnumFmt = Libc.IoReadWrite('V', 2, sizeof(V4l2FmtDesc));
    internal static readonly uint GetFmt = Libc.IoReadWrite('V', 4, sizeof(V4l2Format));
    internal static readonly uint SetFmt = Libc.IoReadWrite('V', 5, sizeof(V4l2Format));
    internal static readonly uint ReqBufs = Libc.IoReadWrite('V', 8, sizeof(V4l2RequestBuffers));
    internal static readonly uint QueryBuf = Libc.IoReadWrite('V', 9, sizeof(V4l2Buffer));
    internal static readonly uint QBuf = Libc.IoReadWrite('V', 15, sizeof(V4l2Buffer));
    internal static readonly uint ExpBuf = Libc.IoReadWrite('V', 16, sizeof(V4l2ExportBuffer));
    internal static readonly uint DQBuf = Libc.IoReadWrite('V', 17, sizeof(V4l2Buffer));
    internal static readonly uint StreamOn = Libc.IoWrite('V', 18, sizeof(int));
    internal static readonly uint StreamOff = Libc.IoWrite('V', 19, sizeof(int));
    internal static readonly uint GetParm = Libc.IoReadWrite('V', 21, sizeof(V4l2StreamParm));
    internal static readonly uint SetParm = Libc.IoReadWrite('V', 22, sizeof(V4l2StreamParm));
    internal static readonly uint GetCtrl = Libc.IoReadWrite('V', 27, sizeof(V4l2Control));
    internal static readonly uint SetCtrl = Libc.IoReadWrite('V', 28, sizeof(V4l2Control));
    internal static readonly uint TryFmt = Libc.IoReadWrite('V', 64, sizeof(V4l2Format));
    internal static readonly uint EnumFrameSizes = Libc.IoReadWrite('V', 74, sizeof(V4l2FrmSizeEnum));
    internal static readonly uint EnumFrameIntervals = Libc.IoReadWrite('V', 75, sizeof(V4l2FrmIvalEnum));

    internal const uint BufTypeVideoCapture = 1;
    internal const uint MemoryMmap = 1;
    internal const uint FieldAny = 0;
    internal const uint FieldNone = 1;
    internal const uint CapVideoCapture = 0x1;
    internal const uint CapStreaming = 0x04000000;
    internal const uint CapDeviceCaps = 0x80000000;
    internal const uint CapTimePerFrame = 0x1000;
    internal const uint BufFlagError = 0x40;
    internal const uint BufFlagTimestampMask = 0xE000;
    internal const uint BufFlagTimestampMonotonic = 0x2000;
    internal const uint FrmSizeDiscrete = 1;
    internal const uint FrmSizeContinuous = 2;
    internal const uint FrmSizeStepwise = 3;
    internal const uint FrmIvalDiscrete = 1;
    internal const uint FrmIvalContinuous = 2;
    internal const uint FrmIvalStepwise = 3;

    internal const uint PixMjpeg = 0x47504A4D;
    internal const uint PixJpeg = 0x4745504A;
    internal const uint PixYuyv = 0x56595559;
    internal const uint PixUyvy = 0x59565955;
    internal const uint PixNv12 = 0x3231564E;
    internal const uint PixYu12 = 0x32315559;

    /// <summary>"YUYV" from 0x56595559.</summary>
    internal static string FourCc(uint code) =>
        string.Create(4, code, static (span, c) =>
        {
            for (var i = 0; i < 4; i++)
            {
                var b = (char)((c >> (8 * i)) & 0xFF);
                span[i] = b is >= ' ' and <= '~' ? b : '?';
            }
        });

    internal static string Text(byte* bytes, int max)
    {
        var length = 0;
        while (length < max && bytes[length] != 0)
        {
            length++;
        }

        return System.Text.Encoding.UTF8.GetString(bytes, length);
    }
}
