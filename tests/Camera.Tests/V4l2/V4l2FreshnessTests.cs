using Camera.V4l2;
using Camera.V4l2.Interop;

namespace Camera.Tests.V4l2;

/// <summary>How a dequeued buffer's capture time and staleness are judged (streaming stays on while capture idles).</summary>
public sealed class V4l2FreshnessTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly long Monotonic = 1_000 * TimeSpan.TicksPerSecond;

    private static V4l2Buffer Stamped(TimeSpan before, uint flags = V4l2Native.BufFlagTimestampMonotonic)
    {
        var at = Monotonic - before.Ticks;
        return new V4l2Buffer
        {
            Flags = flags,
            TimestampSeconds = at / TimeSpan.TicksPerSecond,
            TimestampMicroseconds = at % TimeSpan.TicksPerSecond / 10,
        };
    }

    [Fact]
    public void CaptureTime_BufferFilledFiveSecondsAgo_IsStampedFiveSecondsAgo()
    {
        var age = V4l2Source.BufferAge(Stamped(TimeSpan.FromSeconds(5)), Monotonic);
        Assert.Equal(Now - TimeSpan.FromSeconds(5), V4l2Source.CaptureTime(Now, age));
    }

    [Fact]
    public void CaptureTime_BufferFilled40MillisecondsAgo_IsStamped40MillisecondsAgo()
    {
        var age = V4l2Source.BufferAge(Stamped(TimeSpan.FromMilliseconds(40)), Monotonic);
        Assert.Equal(Now - TimeSpan.FromMilliseconds(40), V4l2Source.CaptureTime(Now, age));
    }

    [Theory]
    [InlineData(0u)] // V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN
    [InlineData(0x4000u)] // V4L2_BUF_FLAG_TIMESTAMP_COPY
    public void CaptureTime_NoMonotonicTimestamp_IsNow(uint flags)
    {
        var age = V4l2Source.BufferAge(Stamped(TimeSpan.FromSeconds(5), flags), Monotonic);
        Assert.Null(age);
        Assert.Equal(Now, V4l2Source.CaptureTime(Now, age));
    }

    [Fact]
    public void CaptureTime_TimestampInTheFuture_IsNow()
    {
        var age = V4l2Source.BufferAge(Stamped(TimeSpan.FromSeconds(-2)), Monotonic);
        Assert.Equal(Now, V4l2Source.CaptureTime(Now, age));
    }

    [Theory]
    [InlineData(30, 0.040, false)]  // the usual: one frame plus transfer
    [InlineData(30, 0.200, false)]  // a USB camera stamping the start of the frame (250 ms floor)
    [InlineData(30, 0.900, true)]   // between reads at Camera:IdleFps=1
    [InlineData(30, 3.920, true)]   // after a pause (the auditor's vivid measurement)
    [InlineData(1, 1.500, false)]   // 1 fps: two intervals are 2 s
    [InlineData(1, 2.500, true)]
    public void IsStale_ByTimestamp_OlderThanTwoFrameIntervals(double fps, double ageSeconds, bool stale) =>
        Assert.Equal(stale, V4l2Source.IsStale(TimeSpan.FromSeconds(ageSeconds), ready: 1, bufferCount: 4, fps));

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(4, true)] // every buffer was full: the driver stopped capturing at some unknown time
    public void IsStale_WithoutTimestamp_WhenEveryBufferWasReady(int ready, bool stale) =>
        Assert.Equal(stale, V4l2Source.IsStale(null, ready, bufferCount: 4, fps: 30));
}
