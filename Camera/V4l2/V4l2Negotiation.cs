namespace Camera.V4l2;

/// <summary>What to ask the device for, chosen from what it offers and the settings.</summary>
public sealed record V4l2Choice(uint PixelFormat, int Width, int Height, V4l2FrameInterval? Interval, string Reason);

/// <summary>
/// Picks format, size and frame interval: the size closest to Camera:Width x Height (exact first, then the nearest
/// area, preferring not smaller), then the format by preference (MJPEG, JPEG, YUYV, NV12, YU12), then the frame rate
/// closest to Camera:Fps without going below it when possible (within a stepwise or continuous interval range: 1/Fps
/// on the range's step).
/// </summary>
public static class V4l2Negotiation
{
    public static V4l2Choice? Choose(IReadOnlyList<V4l2FormatInfo> formats, int width, int height, int fps)
    {
        ArgumentNullException.ThrowIfNull(formats);
        var candidates = new List<(V4l2FormatInfo Format, int Rank, int Width, int Height, V4l2FrameSize Size, double Distance)>();
        foreach (var format in formats)
        {
            var rank = Array.IndexOf(V4l2Devices.PreferredFormats, format.PixelFormat);
            if (rank < 0)
            {
                continue;
            }

            foreach (var size in format.Sizes)
            {
                var (w, h) = size.Stepwise ? Fit(size, width, height) : (size.Width, size.Height);
                candidates.Add((format, rank, w, h, size, Distance(w, h, width, height)));
            }
        }

        if (candidates.Count == 0)
        {
            return null;
        }

        // Exact first: another shape of the same area (Distance 0 too) must not win by a preferred format.
        var best = candidates.OrderBy(c => c.Width == width && c.Height == height ? 0 : 1).ThenBy(c => c.Distance).ThenBy(c => c.Rank).First();
        var interval = best.Size.IntervalRange is { } range
            ? InRange(range, fps)
            : best.Size.Intervals.Count == 0
                ? (V4l2FrameInterval?)null
                : best.Size.Intervals.OrderBy(i => i.Fps >= fps ? 0 : 1).ThenBy(i => Math.Abs(i.Fps - fps)).First();
        var reason = $"asked {width}x{height} at {fps} fps; device offers {string.Join(", ", formats.Select(f => f.FourCc))}";
        return new V4l2Choice(best.Format.PixelFormat, best.Width, best.Height, interval, reason);
    }

    /// <summary>
    /// The interval of a stepwise or continuous range closest to 1/<paramref name="fps"/>: the range's nearer end when
    /// it lies outside, else 1/fps itself (continuous) or the step at or below it, so the rate is not below Fps.
    /// </summary>
    internal static V4l2FrameInterval InRange(V4l2IntervalRange range, int fps)
    {
        ArgumentNullException.ThrowIfNull(range);
        var target = 1.0 / Math.Max(1, fps);
        if (target <= range.Min.Seconds)
        {
            return range.Min;
        }

        if (target >= range.Max.Seconds)
        {
            return range.Max;
        }

        var exact = new V4l2FrameInterval(1, (uint)Math.Max(1, fps));
        if (range.Continuous || range.Step.Seconds <= 0)
        {
            return exact;
        }

        // Min + k * Step, k whole; the small allowance keeps 1/fps itself when it lies on a step.
        var steps = (ulong)Math.Floor(((target - range.Min.Seconds) / range.Step.Seconds) + 1e-6);
        var numerator = ((ulong)range.Min.Numerator * range.Step.Denominator) + (steps * range.Step.Numerator * range.Min.Denominator);
        var denominator = (ulong)range.Min.Denominator * range.Step.Denominator;
        var divisor = Gcd(numerator, denominator);
        (numerator, denominator) = (numerator / divisor, denominator / divisor);
        if (numerator > uint.MaxValue || denominator > uint.MaxValue)
        {
            // Too fine to write exactly: in 100 ns units, as UVC cameras count (the driver rounds to its own grid).
            (numerator, denominator) = ((ulong)Math.Round((range.Min.Seconds + (steps * range.Step.Seconds)) * 10_000_000), 10_000_000);
        }

        var snapped = new V4l2FrameInterval((uint)numerator, (uint)denominator);
        return Math.Abs(snapped.Seconds - target) < 1e-9 ? exact : snapped;
    }

    private static ulong Gcd(ulong a, ulong b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a == 0 ? 1 : a;
    }

    private static (int Width, int Height) Fit(V4l2FrameSize size, int width, int height)
    {
        static int Clamp(int value, int min, int max, int step) =>
            Math.Clamp(min + ((Math.Clamp(value, min, max) - min) / step * step), min, max);
        return (Clamp(width, size.Width, size.MaxWidth, size.StepWidth), Clamp(height, size.Height, size.MaxHeight, size.StepHeight));
    }

    /// <summary>0 for an exact match; smaller sizes cost a little more than larger ones (downscaling is not done here).</summary>
    private static double Distance(int w, int h, int width, int height)
    {
        var ratio = (double)w * h / ((double)width * height);
        return ratio >= 1 ? ratio - 1 : ((1 / ratio) - 1) * 1.5;
    }
}
