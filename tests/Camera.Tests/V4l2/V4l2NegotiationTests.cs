using Camera.Jpeg;
using Camera.V4l2;
using Camera.V4l2.Interop;

namespace Camera.Tests.V4l2;

public sealed class V4l2NegotiationTests
{
    private static readonly V4l2FrameInterval[] Rates = [new(1, 30), new(1, 15), new(1, 5)];

    private static V4l2FormatInfo Format(uint code, params (int W, int H)[] sizes) =>
        new(code, V4l2Native.FourCc(code), [.. sizes.Select(s => new V4l2FrameSize(s.W, s.H, Rates))]);

    [Fact]
    public void Choose_SameSizeInMjpegAndYuyv_PrefersMjpegPassthrough()
    {
        var choice = V4l2Negotiation.Choose([Format(V4l2Native.PixYuyv, (1280, 720)), Format(V4l2Native.PixMjpeg, (1280, 720))], 1280, 720, 30)!;
        Assert.Equal(V4l2Native.PixMjpeg, choice.PixelFormat);
        Assert.Equal(30, choice.Interval!.Value.Fps);
    }

    [Fact]
    public void Choose_ExactSizeOnlyInYuyv_TakesTheExactSize()
    {
        var choice = V4l2Negotiation.Choose([Format(V4l2Native.PixMjpeg, (1920, 1080)), Format(V4l2Native.PixYuyv, (640, 480))], 640, 480, 30)!;
        Assert.Equal((V4l2Native.PixYuyv, 640, 480), (choice.PixelFormat, choice.Width, choice.Height));
    }

    [Fact]
    public void Choose_ExactSizeInYuyvAndSameAreaOtherShapeInMjpeg_TakesTheExactSize()
    {
        // 800x384 has 640x480's area, so both are at distance 0; MJPEG is the preferred format.
        var choice = V4l2Negotiation.Choose([Format(V4l2Native.PixMjpeg, (800, 384)), Format(V4l2Native.PixYuyv, (640, 480))], 640, 480, 30)!;
        Assert.Equal((V4l2Native.PixYuyv, 640, 480), (choice.PixelFormat, choice.Width, choice.Height));
    }

    [Fact]
    public void Choose_NoExactSize_PrefersTheNearestNotSmaller()
    {
        var choice = V4l2Negotiation.Choose([Format(V4l2Native.PixYuyv, (320, 240), (800, 600), (1920, 1080))], 700, 500, 30)!;
        Assert.Equal((800, 600), (choice.Width, choice.Height));
    }

    [Fact]
    public void Choose_RateNotOffered_TakesTheNextFasterOne()
    {
        var choice = V4l2Negotiation.Choose([Format(V4l2Native.PixYuyv, (640, 480))], 640, 480, 10)!;
        Assert.Equal(15, choice.Interval!.Value.Fps);
    }

    [Fact]
    public void Choose_StepwiseRange_FitsTheRequestToTheSteps()
    {
        var stepwise = new V4l2FormatInfo(V4l2Native.PixNv12, "NV12", [new V4l2FrameSize(32, 32, Rates, true, 3280, 2464, 16, 16)]);
        var choice = V4l2Negotiation.Choose([stepwise], 1290, 725, 30)!;
        Assert.Equal((1280, 720), (choice.Width, choice.Height));
    }

    private static V4l2FormatInfo WithRange(V4l2IntervalRange range) =>
        new(V4l2Native.PixYuyv, "YUYV", [new V4l2FrameSize(640, 480, [], IntervalRange: range)]);

    [Theory]
    [InlineData(15, 1u, 15u)]
    [InlineData(30, 1u, 30u)]
    [InlineData(60, 1u, 30u)] // faster than the range: its fastest end
    [InlineData(1, 1u, 1u)]
    public void Choose_ContinuousIntervalRange_TakesOneOverFpsInsideTheRange(int fps, uint numerator, uint denominator)
    {
        var range = new V4l2IntervalRange(new(1, 30), new(1, 1), new(1, 1), Continuous: true);
        var choice = V4l2Negotiation.Choose([WithRange(range)], 640, 480, fps)!;
        Assert.Equal(new V4l2FrameInterval(numerator, denominator), choice.Interval);
    }

    [Fact]
    public void Choose_StepwiseIntervalRange_SnapsToTheStepNotSlowerThanAsked()
    {
        // 1/30 s to 1 s in steps of 1/10 s: 1/30, 2/15, 7/30 …; 12 fps (1/12 s) lies between 1/30 and 2/15.
        var range = new V4l2IntervalRange(new(1, 30), new(1, 1), new(1, 10), Continuous: false);
        var choice = V4l2Negotiation.Choose([WithRange(range)], 640, 480, 12)!;
        Assert.Equal(new V4l2FrameInterval(1, 30), choice.Interval);

        // 4 fps (1/4 s = 1/30 + 2.17 steps): 1/30 + 2/10 = 7/30 s, 4.29 fps, the slowest not below 4.
        choice = V4l2Negotiation.Choose([WithRange(range)], 640, 480, 4)!;
        Assert.Equal(new V4l2FrameInterval(7, 30), choice.Interval);
    }

    [Fact]
    public void Choose_UvcStyleStepwiseRangeIn100NanosecondUnits_TakesTheAskedRate()
    {
        var range = new V4l2IntervalRange(new(333333, 10_000_000), new(10_000_000, 10_000_000), new(1, 10_000_000), Continuous: false);
        var choice = V4l2Negotiation.Choose([WithRange(range)], 640, 480, 15)!;
        Assert.Equal(15, choice.Interval!.Value.Fps, 3);
        Assert.True(choice.Interval!.Value.Fps >= 15);
    }

    [Fact]
    public void Choose_OnlyUnsupportedFormats_ReturnsNull() =>
        Assert.Null(V4l2Negotiation.Choose([Format(0x42474752 /* RGGB Bayer */, (640, 480))], 640, 480, 30));

    [Fact]
    public void DeinterleaveYuyv_SplitsLumaAndChromaHonouringTheStride()
    {
        // 4x2 pixels, 12 bytes per line (4 bytes of padding).
        byte[] yuyv = [10, 100, 11, 200, 12, 101, 13, 201, 0, 0, 0, 0, 20, 102, 21, 202, 22, 103, 23, 203, 0, 0, 0, 0];
        var y = new byte[8];
        var u = new byte[4];
        var v = new byte[4];
        Assert.True(YuvConversion.TryDeinterleaveYuyv(yuyv, 12, 4, 2, y, u, v));
        Assert.Equal([10, 11, 12, 13, 20, 21, 22, 23], y);
        Assert.Equal([100, 101, 102, 103], u);
        Assert.Equal([200, 201, 202, 203], v);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(38)]
    [InlineData(640)]
    public void DeinterleaveYuyv_VectorAndTailPaths_AgreeWithTheDefinition(int width)
    {
        const int height = 3;
        var stride = (width * 2) + 6;
        var yuyv = new byte[stride * height];
        new Random(width).NextBytes(yuyv);
        var y = new byte[width * height];
        var u = new byte[width / 2 * height];
        var v = new byte[width / 2 * height];
        Assert.True(YuvConversion.TryDeinterleaveYuyv(yuyv, stride, width, height, y, u, v));
        for (var row = 0; row < height; row++)
        {
            for (var x = 0; x < width; x++)
            {
                Assert.Equal(yuyv[(row * stride) + (2 * x)], y[(row * width) + x]);
            }

            for (var pair = 0; pair < width / 2; pair++)
            {
                Assert.Equal(yuyv[(row * stride) + (4 * pair) + 1], u[(row * width / 2) + pair]);
                Assert.Equal(yuyv[(row * stride) + (4 * pair) + 3], v[(row * width / 2) + pair]);
            }
        }
    }

    [Fact]
    public void SplitNv12_SplitsTheInterleavedChromaPlane()
    {
        byte[] nv12 = [1, 2, 3, 4, 5, 6, 7, 8, 50, 60, 51, 61];
        var y = new byte[8];
        var u = new byte[2];
        var v = new byte[2];
        Assert.True(YuvConversion.TrySplitNv12(nv12, 4, 4, 2, y, u, v));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], y);
        Assert.Equal([50, 51], u);
        Assert.Equal([60, 61], v);
    }

    [Theory]
    [InlineData(0)] // no padding on the last line: still a whole frame
    [InlineData(1)]
    [InlineData(200)]
    public void TryDeinterleaveYuyv_BufferShorterThanTheFrame_ReturnsFalseInsteadOfThrowing(int missing)
    {
        // 64x4 pixels, 136 bytes per line; a whole frame needs 3 lines and the last one's pixels.
        const int width = 64;
        const int height = 4;
        const int stride = 136;
        var whole = (stride * (height - 1)) + (width * 2);
        var yuyv = new byte[whole - missing];
        var converted = YuvConversion.TryDeinterleaveYuyv(yuyv, stride, width, height, new byte[width * height], new byte[width / 2 * height], new byte[width / 2 * height]);
        Assert.Equal(missing == 0, converted);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    public void TrySplitNv12_BufferShorterThanTheFrame_ReturnsFalseInsteadOfThrowing(int missing)
    {
        // 64x4 pixels, 72 bytes per line: the Y plane, then 2 lines of interleaved UV, the last without padding.
        const int width = 64;
        const int height = 4;
        const int stride = 72;
        var whole = (stride * height) + stride + width;
        var nv12 = new byte[whole - missing];
        var converted = YuvConversion.TrySplitNv12(nv12, stride, width, height, new byte[width * height], new byte[width / 2 * height / 2], new byte[width / 2 * height / 2]);
        Assert.Equal(missing == 0, converted);
    }

    [Fact]
    public void NoCameraFrame_DecodesToTheRequestedSizeWithTheMessageInk()
    {
        var frame = NoCameraFrame.Render(320, 240, 80, DateTimeOffset.UnixEpoch);
        try
        {
            using var decoder = new JpegDecoder();
            var rgb = decoder.DecodeRgb(frame.Jpeg.Span, out var width, out var height);
            Assert.Equal((320, 240), (width, height));
            Assert.Null(JpegMarkers.Validate(frame.Jpeg.Span));
            var bright = rgb.Count(b => b > 180);
            Assert.True(bright > 1000, $"only {bright} bright bytes: the letters are missing");
        }
        finally
        {
            frame.Release();
        }
    }

    [Fact]
    public void Describe_Devices_LaysOutLikeV4l2Ctl()
    {
        var device = new V4l2DeviceInfo("/dev/video0", "uvcvideo", "USB Camera", "usb-0000:01:00.0-1", 0x04200001,
            [Format(V4l2Native.PixMjpeg, (1280, 720)), new V4l2FormatInfo(0x42474752, "8-bit Bayer", [])]);
        var text = V4l2Devices.Describe([device]);
        Assert.Contains("/dev/video0: USB Camera (uvcvideo, usb-0000:01:00.0-1)", text, StringComparison.Ordinal);
        Assert.Contains("[0]: 'MJPG' (MJPG)", text, StringComparison.Ordinal);
        Assert.Contains("\t\tSize: Discrete 1280x720\n\t\t\tInterval: Discrete 0.033s (30.000 fps)", text, StringComparison.Ordinal);
        Assert.Contains("'RGGB' (8-bit Bayer) - not supported by the appliance", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_StepwiseAndContinuousIntervals_LaysThemOutLikeV4l2Ctl()
    {
        V4l2FrameSize Sized(int width, V4l2IntervalRange range) => new(width, width * 3 / 4, [], IntervalRange: range);
        var device = new V4l2DeviceInfo("/dev/video0", "unicam", "Pi Camera", "platform:fe801000.csi", 0x04200001,
        [
            new V4l2FormatInfo(V4l2Native.PixYuyv, "YUYV 4:2:2",
            [
                Sized(640, new V4l2IntervalRange(new(1, 30), new(1, 1), new(1, 1), Continuous: true)),
                Sized(1280, new V4l2IntervalRange(new(1, 30), new(1, 2), new(1, 30), Continuous: false)),
            ]),
        ]);
        var text = V4l2Devices.Describe([device]);
        Assert.Contains("\t\tSize: Discrete 640x480\n\t\t\tInterval: Continuous 0.033s - 1.000s (1.000-30.000 fps)\n", text, StringComparison.Ordinal);
        Assert.Contains("\t\tSize: Discrete 1280x960\n\t\t\tInterval: Stepwise 0.033s - 0.500s with step 0.033s (2.000-30.000 fps)\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Interval: Discrete", text, StringComparison.Ordinal);
    }
}
