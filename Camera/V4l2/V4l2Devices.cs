using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Interop;
using Camera.V4l2.Interop;
using Tmds.Linux;

namespace Camera.V4l2;

/// <summary>A capture device with what it offers (for <c>Appliance cameras</c>, the doctor and negotiation).</summary>
public sealed record V4l2DeviceInfo(string Path, string Driver, string Card, string BusInfo, uint DeviceCaps, IReadOnlyList<V4l2FormatInfo> Formats);

public sealed record V4l2FormatInfo(uint PixelFormat, string Description, IReadOnlyList<V4l2FrameSize> Sizes)
{
    public string FourCc => V4l2Native.FourCc(PixelFormat);
}

/// <summary>
/// A discrete size, or (Stepwise) a range from Width x Height up to MaxWidth x MaxHeight in steps. Its frame intervals
/// are either discrete (<see cref="Intervals"/>) or one stepwise or continuous range (<see cref="IntervalRange"/>).
/// </summary>
public sealed record V4l2FrameSize(int Width, int Height, IReadOnlyList<V4l2FrameInterval> Intervals, bool Stepwise = false,
    int MaxWidth = 0, int MaxHeight = 0, int StepWidth = 1, int StepHeight = 1, V4l2IntervalRange? IntervalRange = null);

/// <summary>A frame interval numerator/denominator seconds (1/30 = 30 fps).</summary>
public readonly record struct V4l2FrameInterval(uint Numerator, uint Denominator)
{
    public double Fps => Numerator == 0 ? 0 : (double)Denominator / Numerator;

    public double Seconds => Denominator == 0 ? 0 : (double)Numerator / Denominator;
}

/// <summary>
/// Every interval from <see cref="Min"/> (the fastest) to <see cref="Max"/> (the slowest): in multiples of
/// <see cref="Step"/> above Min (V4L2_FRMIVAL_TYPE_STEPWISE), or any (CONTINUOUS).
/// </summary>
public sealed record V4l2IntervalRange(V4l2FrameInterval Min, V4l2FrameInterval Max, V4l2FrameInterval Step, bool Continuous);

/// <summary>Enumerates V4L2 capture devices with QUERYCAP, ENUM_FMT, ENUM_FRAMESIZES and ENUM_FRAMEINTERVALS.</summary>
public static unsafe class V4l2Devices
{
    /// <summary>The /dev/videoN nodes that can capture video with streaming I/O, in number order.</summary>
    public static IReadOnlyList<V4l2DeviceInfo> Enumerate()
    {
        var devices = new List<V4l2DeviceInfo>();
        foreach (var path in VideoNodes())
        {
            var fd = Libc.Open(path, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
            if (fd < 0)
            {
                continue;
            }

            try
            {
                if (Query(fd, path) is { } info && IsCapture(info.DeviceCaps))
                {
                    devices.Add(info with { Formats = EnumerateFormats(fd) });
                }
            }
            finally
            {
                _ = LibC.close(fd);
            }
        }

        return devices;
    }

    internal static IEnumerable<string> VideoNodes() =>
        Directory.Exists("/dev")
            ? Directory.GetFiles("/dev", "video*")
                .Select(p => (Path: p, Number: int.TryParse(p.AsSpan(10), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue))
                .Where(p => p.Number != int.MaxValue).OrderBy(p => p.Number).Select(p => p.Path)
            : [];

    /// <summary>Capture and streaming, judged on device_caps when the driver fills it (UVC metadata nodes claim capture in capabilities).</summary>
    internal static bool IsCapture(uint caps) =>
        (caps & V4l2Native.CapVideoCapture) != 0 && (caps & V4l2Native.CapStreaming) != 0;

    internal static V4l2DeviceInfo? Query(int fd, string path)
    {
        V4l2Capability cap;
        if (Libc.IoctlRetry(fd, V4l2Native.QueryCap, &cap, out _) < 0)
        {
            return null;
        }

        var caps = (cap.Capabilities & V4l2Native.CapDeviceCaps) != 0 ? cap.DeviceCaps : cap.Capabilities;
        return new V4l2DeviceInfo(path, V4l2Native.Text(cap.Driver, 16), V4l2Native.Text(cap.Card, 32), V4l2Native.Text(cap.BusInfo, 32), caps, []);
    }

    internal static List<V4l2FormatInfo> EnumerateFormats(int fd)
    {
        var formats = new List<V4l2FormatInfo>();
        for (uint i = 0; i < 256; i++)
        {
            var desc = new V4l2FmtDesc { Index = i, Type = V4l2Native.BufTypeVideoCapture };
            if (Libc.IoctlRetry(fd, V4l2Native.EnumFmt, &desc, out _) < 0)
            {
                break;
            }

            formats.Add(new V4l2FormatInfo(desc.PixelFormat, V4l2Native.Text(desc.Description, 32), EnumerateSizes(fd, desc.PixelFormat)));
        }

        return formats;
    }

    private static List<V4l2FrameSize> EnumerateSizes(int fd, uint pixelFormat)
    {
        var sizes = new List<V4l2FrameSize>();
        for (uint i = 0; i < 256; i++)
        {
            var size = new V4l2FrmSizeEnum { Index = i, PixelFormat = pixelFormat };
            if (Libc.IoctlRetry(fd, V4l2Native.EnumFrameSizes, &size, out _) < 0)
            {
                break;
            }

            if (size.Type == V4l2Native.FrmSizeDiscrete)
            {
                var (intervals, range) = EnumerateIntervals(fd, pixelFormat, size.Width, size.Height);
                sizes.Add(new V4l2FrameSize((int)size.Width, (int)size.Height, intervals, IntervalRange: range));
                continue;
            }

            // Continuous or stepwise: one entry for the whole range; intervals are asked for at the largest size.
            var (maxIntervals, maxRange) = EnumerateIntervals(fd, pixelFormat, size.MaxWidth, size.MaxHeight);
            sizes.Add(new V4l2FrameSize((int)size.MinWidth, (int)size.MinHeight, maxIntervals,
                true, (int)size.MaxWidth, (int)size.MaxHeight, (int)Math.Max(1, size.StepWidth), (int)Math.Max(1, size.StepHeight), maxRange));
            break;
        }

        return sizes;
    }

    /// <summary>Discrete intervals, or (the driver's answer to index 0 being stepwise or continuous) one range.</summary>
    internal static (List<V4l2FrameInterval> Discrete, V4l2IntervalRange? Range) EnumerateIntervals(int fd, uint pixelFormat, uint width, uint height)
    {
        var intervals = new List<V4l2FrameInterval>();
        for (uint i = 0; i < 64; i++)
        {
            var ival = new V4l2FrmIvalEnum { Index = i, PixelFormat = pixelFormat, Width = width, Height = height };
            if (Libc.IoctlRetry(fd, V4l2Native.EnumFrameIntervals, &ival, out _) < 0)
            {
                break;
            }

            if (ival.Type != V4l2Native.FrmIvalDiscrete)
            {
                var continuous = ival.Type == V4l2Native.FrmIvalContinuous || ival.StepNumerator == 0 || ival.StepDenominator == 0;
                return ([], new V4l2IntervalRange(new(ival.Numerator, ival.Denominator), new(ival.MaxNumerator, ival.MaxDenominator),
                    continuous ? new(1, 1) : new(ival.StepNumerator, ival.StepDenominator), continuous));
            }

            intervals.Add(new V4l2FrameInterval(ival.Numerator, ival.Denominator));
        }

        return (intervals, null);
    }

    /// <summary>The listing <c>Appliance cameras</c> prints, laid out like <c>v4l2-ctl --list-formats-ext</c>.</summary>
    public static string Describe(IReadOnlyList<V4l2DeviceInfo> devices)
    {
        var text = new StringBuilder();
        if (devices.Count == 0)
        {
            text.Append("No V4L2 capture devices (/dev/video*) found.\n");
        }

        foreach (var device in devices)
        {
            text.Append(CultureInfo.InvariantCulture, $"{device.Path}: {device.Card} ({device.Driver}, {device.BusInfo})\n");
            text.Append("\tType: Video Capture\n");
            for (var i = 0; i < device.Formats.Count; i++)
            {
                var format = device.Formats[i];
                text.Append(CultureInfo.InvariantCulture, $"\n\t[{i}]: '{format.FourCc}' ({format.Description}){(Supported(format.PixelFormat) ? "" : " - not supported by the appliance")}\n");
                foreach (var size in format.Sizes)
                {
                    text.Append(size.Stepwise
                        ? string.Create(CultureInfo.InvariantCulture, $"\t\tSize: Stepwise {size.Width}x{size.Height} - {size.MaxWidth}x{size.MaxHeight} with step {size.StepWidth}/{size.StepHeight}\n")
                        : string.Create(CultureInfo.InvariantCulture, $"\t\tSize: Discrete {size.Width}x{size.Height}\n"));
                    foreach (var interval in size.Intervals)
                    {
                        text.Append(CultureInfo.InvariantCulture, $"\t\t\tInterval: Discrete {interval.Seconds:0.000}s ({interval.Fps:0.000} fps)\n");
                    }

                    // As v4l2-ctl --list-formats-ext prints them (the fps range runs from the slowest to the fastest).
                    if (size.IntervalRange is { } range)
                    {
                        text.Append(range.Continuous
                            ? string.Create(CultureInfo.InvariantCulture,
                                $"\t\t\tInterval: Continuous {range.Min.Seconds:0.000}s - {range.Max.Seconds:0.000}s ({range.Max.Fps:0.000}-{range.Min.Fps:0.000} fps)\n")
                            : string.Create(CultureInfo.InvariantCulture,
                                $"\t\t\tInterval: Stepwise {range.Min.Seconds:0.000}s - {range.Max.Seconds:0.000}s with step {range.Step.Seconds:0.000}s ({range.Max.Fps:0.000}-{range.Min.Fps:0.000} fps)\n"));
                    }
                }
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Formats the source can deliver, best first: MJPEG passes through, the raw ones are encoded once.</summary>
    internal static readonly uint[] PreferredFormats =
        [V4l2Native.PixMjpeg, V4l2Native.PixJpeg, V4l2Native.PixYuyv, V4l2Native.PixNv12, V4l2Native.PixYu12];

    /// <summary>Whether the source can deliver <paramref name="pixelFormat"/> (one of <see cref="PreferredFormats"/>).</summary>
    public static bool Supported(uint pixelFormat) => Array.IndexOf(PreferredFormats, pixelFormat) >= 0;

    /// <summary>The preferred formats by name, best first ("MJPG, JPEG, …"), for messages a person reads.</summary>
    public static string PreferredFormatNames => string.Join(", ", PreferredFormats.Select(V4l2Native.FourCc));

    internal static string LastError() => Libc.Describe(Marshal.GetLastPInvokeError());
}
