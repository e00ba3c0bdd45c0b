using Appliance.Interop;
using Camera.Jpeg;
using Camera.V4l2.Interop;
using Microsoft.Extensions.Logging;
using Tmds.Linux;

namespace Camera.V4l2;

/// <summary>
/// A V4L2 capture device with mmap streaming buffers, read on the capture thread. MJPEG frames pass through
/// (validated, Huffman tables inserted when missing); YUYV, NV12 and YU12 are encoded once with libturbojpeg.
/// ENODEV (unplugged) and other device errors surface as <see cref="FrameSourceException"/>, after which the capture
/// service closes the source and reopens it with backoff.
/// </summary>
public sealed unsafe partial class V4l2Source : FrameSource
{
    private const int BufferCount = 4;
    private readonly CameraOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private int _fd = -1;
    private string _path = "";
    private string _card = "";
    private uint _pixelFormat;
    private int _bytesPerLine;
    private double _fps;
    private (nint Address, int Length)[] _buffers = [];
    private JpegEncoder? _encoder;
    private byte[] _y = [];
    private byte[] _u = [];
    private byte[] _v = [];

    public V4l2Source(CameraOptions options, ILogger<V4l2Source> logger, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? TimeProvider.System;
    }

    public override string Name => "v4l2";

    public override bool IsSelfPaced => true;

    public override string Description =>
        $"v4l2 {_path} ({_card}) {V4l2Native.FourCc(_pixelFormat)} {Width}x{Height} at {_fps:0.##} fps";

    /// <summary>The negotiated pixel format (fourcc), for tests and the doctor.</summary>
    public string PixelFormat => V4l2Native.FourCc(_pixelFormat);

    public double NegotiatedFps => _fps;

    /// <summary>The driver's sequence number of the buffer behind the last frame read (for the hardware tests).</summary>
    internal uint LastSequence { get; private set; }

    public override void Open(CancellationToken cancellationToken)
    {
        Close();
        _path = string.IsNullOrEmpty(_options.Device) ? FirstCaptureDevice() : _options.Device;
        _fd = Libc.Open(_path, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (_fd < 0)
        {
            throw new FrameSourceException($"v4l2: cannot open {_path}: {V4l2Devices.LastError()}");
        }

        try
        {
            var info = V4l2Devices.Query(_fd, _path) ?? throw new FrameSourceException($"v4l2: {_path} is not a V4L2 device (QUERYCAP failed)");
            if (!V4l2Devices.IsCapture(info.DeviceCaps))
            {
                throw new FrameSourceException($"v4l2: {_path} ({info.Card}) cannot capture video with streaming I/O");
            }

            _card = info.Card;
            var formats = V4l2Devices.EnumerateFormats(_fd);
            var choice = V4l2Negotiation.Choose(formats, _options.Width, _options.Height, _options.Fps)
                ?? throw new FrameSourceException($"v4l2: {_path} offers none of MJPG, JPEG, YUYV, NV12, YU12 (it has {string.Join(", ", formats.Select(f => f.FourCc))})");
            SetFormat(choice);
            SetFrameRate(choice);
            LogNegotiated(_logger, _path, _card, PixelFormat, Width, Height, _fps, choice.Reason);
            StartStreaming();
        }
        catch
        {
            Close();
            throw;
        }
    }

    private static string FirstCaptureDevice() =>
        V4l2Devices.Enumerate().FirstOrDefault(d => d.Formats.Any(f => V4l2Devices.Supported(f.PixelFormat)))?.Path
            ?? throw new FrameSourceException("v4l2: no capture device with a usable format (/dev/video*)");

    private void SetFormat(V4l2Choice choice)
    {
        var format = new V4l2Format { Type = V4l2Native.BufTypeVideoCapture };
        format.Pix.Width = (uint)choice.Width;
        format.Pix.Height = (uint)choice.Height;
        format.Pix.PixelFormat = choice.PixelFormat;
        format.Pix.Field = V4l2Native.FieldNone;
        Ioctl(V4l2Native.SetFmt, &format, "S_FMT");

        // The driver may adjust: use what it chose.
        _pixelFormat = format.Pix.PixelFormat;
        Width = (int)format.Pix.Width;
        Height = (int)format.Pix.Height;
        _bytesPerLine = (int)format.Pix.BytesPerLine;
        if (!V4l2Devices.Supported(_pixelFormat))
        {
            throw new FrameSourceException($"v4l2: {_path} switched to unsupported format {V4l2Native.FourCc(_pixelFormat)}");
        }

        if (_pixelFormat is not (V4l2Native.PixMjpeg or V4l2Native.PixJpeg))
        {
            if (Width % 2 != 0 || Height % 2 != 0)
            {
                throw new FrameSourceException($"v4l2: {_path} gave an odd size {Width}x{Height}");
            }

            _encoder ??= new JpegEncoder(_options.Quality);
            var chromaHeight = _pixelFormat == V4l2Native.PixYuyv ? Height : Height / 2;
            _y = Resize(_y, Width * Height);
            _u = Resize(_u, Width / 2 * chromaHeight);
            _v = Resize(_v, Width / 2 * chromaHeight);
        }
    }

    private static byte[] Resize(byte[] buffer, int length) => buffer.Length == length ? buffer : new byte[length];

    /// <summary>S_PARM before STREAMON (uvcvideo answers EBUSY while streaming).</summary>
    private void SetFrameRate(V4l2Choice choice)
    {
        var parm = new V4l2StreamParm { Type = V4l2Native.BufTypeVideoCapture };
        if (Libc.IoctlRetry(_fd, V4l2Native.GetParm, &parm, out _) < 0 || (parm.Capability & V4l2Native.CapTimePerFrame) == 0)
        {
            _fps = choice.Interval?.Fps ?? 0;
            return;
        }

        var interval = choice.Interval ?? new V4l2FrameInterval(1, (uint)_options.Fps);
        parm.TimePerFrameNumerator = interval.Numerator;
        parm.TimePerFrameDenominator = interval.Denominator;
        if (Libc.IoctlRetry(_fd, V4l2Native.SetParm, &parm, out _) >= 0 && parm.TimePerFrameNumerator > 0)
        {
            _fps = (double)parm.TimePerFrameDenominator / parm.TimePerFrameNumerator;
        }
    }

    private void StartStreaming()
    {
        var request = new V4l2RequestBuffers { Count = BufferCount, Type = V4l2Native.BufTypeVideoCapture, Memory = V4l2Native.MemoryMmap };
        Ioctl(V4l2Native.ReqBufs, &request, "REQBUFS");
        if (request.Count < 2)
        {
            throw new FrameSourceException($"v4l2: {_path} gave only {request.Count} buffer(s)");
        }

        _buffers = new (nint, int)[request.Count];
        for (uint i = 0; i < request.Count; i++)
        {
            var buffer = new V4l2Buffer { Index = i, Type = V4l2Native.BufTypeVideoCapture, Memory = V4l2Native.MemoryMmap };
            Ioctl(V4l2Native.QueryBuf, &buffer, "QUERYBUF");
            var address = (nint)LibC.mmap(null, buffer.Length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, _fd, buffer.Offset);
            if (address == (nint)LibC.MAP_FAILED)
            {
                throw new FrameSourceException($"v4l2: mmap of buffer {i} failed: {V4l2Devices.LastError()}");
            }

            _buffers[i] = (address, (int)buffer.Length);
            Ioctl(V4l2Native.QBuf, &buffer, "QBUF");
        }

        var type = (int)V4l2Native.BufTypeVideoCapture;
        Ioctl(V4l2Native.StreamOn, &type, "STREAMON");
    }

    public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_fd < 0)
        {
            throw new FrameSourceException("v4l2: the device is not open");
        }

        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);

        // Streaming stays on between reads, so the buffers ready now may have been filled long ago (while paused, or
        // between idle reads). Once a stale batch has been put back, whatever the driver fills next is fresh.
        var acceptStale = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var remaining = (int)Math.Max(0, (deadline - _time.GetTimestamp()) * 1000 / _time.TimestampFrequency);
            var poll = new pollfd { fd = _fd, events = LibC.POLLIN };

            // Bounded waits so cancellation is noticed.
            var ready = LibC.poll(&poll, 1, Math.Min(remaining, 250));
            if (ready < 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                throw new FrameSourceException($"v4l2: poll on {_path} failed: {Libc.Describe(errno)}");
            }

            if (ready > 0 && (poll.revents & LibC.POLLIN) != 0)
            {
                var frame = DequeueNewest(ref acceptStale);
                if (frame is not null)
                {
                    return frame;
                }
            }
            else if (ready > 0 && ((poll.revents & LibC.POLLERR) != 0 || (poll.revents & LibC.POLLHUP) != 0 || (poll.revents & LibC.POLLNVAL) != 0))
            {
                // POLLERR without data: the device went away or streaming stopped; DQBUF tells which.
                _ = DequeueNewest(ref acceptStale);
                throw new FrameSourceException($"v4l2: {_path} reported an error (unplugged?)");
            }

            if (remaining == 0)
            {
                return null;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return null;
    }

    /// <summary>
    /// Dequeues every ready buffer, requeues all but the newest good one, converts that one. When that one is stale
    /// (see <see cref="IsStale"/>) and <paramref name="acceptStale"/> is false, it is requeued too and null returned,
    /// so the caller waits for the driver's next buffer; <paramref name="acceptStale"/> is then set, as every buffer
    /// dequeued later was filled after this call.
    /// </summary>
    private Frame? DequeueNewest(ref bool acceptStale)
    {
        V4l2Buffer? newest = null;
        var dequeued = 0;
        while (dequeued < 64)
        {
            var buffer = new V4l2Buffer { Type = V4l2Native.BufTypeVideoCapture, Memory = V4l2Native.MemoryMmap };
            if (Libc.IoctlRetry(_fd, V4l2Native.DQBuf, &buffer, out var errno) < 0)
            {
                if (errno == LibC.EAGAIN)
                {
                    break;
                }

                if (newest is { } held)
                {
                    Requeue(held);
                }

                throw new FrameSourceException($"v4l2: {_path} DQBUF failed: {Libc.Describe(errno)}");
            }

            dequeued++;
            if ((buffer.Flags & V4l2Native.BufFlagError) != 0 || buffer.BytesUsed == 0)
            {
                Requeue(buffer);
                continue;
            }

            if (newest is { } older)
            {
                Requeue(older);
            }

            newest = buffer;
        }

        if (newest is not { } chosen)
        {
            return null;
        }

        var age = BufferAge(chosen, MonotonicTicks());
        if (!acceptStale && IsStale(age, dequeued, _buffers.Length, _fps > 0 ? _fps : _options.Fps))
        {
            acceptStale = true;
            LogSkippedStale(_logger, _path, age?.TotalSeconds ?? double.NaN, dequeued);
            Requeue(chosen);
            return null;
        }

        try
        {
            return Convert(chosen, age);
        }
        finally
        {
            Requeue(chosen);
        }
    }

    /// <summary>
    /// Whether the newest ready buffer is too old to serve: older than two frame intervals (at least 250 ms, as some
    /// USB cameras stamp the start of a frame well before it arrives) by the driver's timestamp, or, without a usable
    /// timestamp, when every buffer was ready at once (the driver had none left to fill, so it stopped capturing some
    /// unknown time ago).
    /// </summary>
    internal static bool IsStale(TimeSpan? age, int ready, int bufferCount, double fps)
    {
        if (age is { } known)
        {
            var limit = TimeSpan.FromSeconds(Math.Max(2 / Math.Max(fps, 1), 0.25));
            return known > limit;
        }

        return ready >= bufferCount;
    }

    /// <summary>CLOCK_MONOTONIC now (as Stopwatch reads it on Linux), in ticks.</summary>
    private static long MonotonicTicks() =>
        (long)(System.Diagnostics.Stopwatch.GetTimestamp() * ((double)TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency));

    /// <summary>
    /// How long ago the driver filled the buffer, by its CLOCK_MONOTONIC timestamp; null when the buffer has no such
    /// timestamp or it lies in the future (another clock).
    /// </summary>
    internal static TimeSpan? BufferAge(V4l2Buffer buffer, long monotonicTicks)
    {
        if ((buffer.Flags & V4l2Native.BufFlagTimestampMask) != V4l2Native.BufFlagTimestampMonotonic || buffer.TimestampSeconds <= 0)
        {
            return null;
        }

        var stampedTicks = (buffer.TimestampSeconds * TimeSpan.TicksPerSecond) + (buffer.TimestampMicroseconds * 10);
        var age = monotonicTicks - stampedTicks;
        return age >= 0 ? TimeSpan.FromTicks(age) : null;
    }

    private void Requeue(V4l2Buffer buffer)
    {
        // A failed requeue shows up as DQBUF/poll errors next time; nothing to do here.
        _ = Libc.IoctlRetry(_fd, V4l2Native.QBuf, &buffer, out _);
    }

    private Frame? Convert(V4l2Buffer buffer, TimeSpan? age)
    {
        var (address, length) = _buffers[buffer.Index];
        var data = new ReadOnlySpan<byte>((void*)address, (int)Math.Min(buffer.BytesUsed, (uint)length));
        LastSequence = buffer.Sequence;
        var now = CaptureTime(_time.GetUtcNow(), age);
        switch (_pixelFormat)
        {
            case V4l2Native.PixMjpeg or V4l2Native.PixJpeg:
                var frame = JpegMarkers.ToFrame(data, now, out var dropReason);
                if (frame is null)
                {
                    LogDropped(_logger, _path, dropReason ?? "invalid");
                }

                return frame;
            case V4l2Native.PixYuyv:
                if (!YuvConversion.TryDeinterleaveYuyv(data, _bytesPerLine, Width, Height, _y, _u, _v))
                {
                    LogDropped(_logger, _path, "short YUYV buffer");
                    return null;
                }

                return EncodeYuyvPlanes(_encoder!, _y, _u, _v, Width, Height, now);
            case V4l2Native.PixNv12:
                if (!YuvConversion.TrySplitNv12(data, _bytesPerLine, Width, Height, _y, _u, _v))
                {
                    LogDropped(_logger, _path, "short NV12 buffer");
                    return null;
                }

                return _encoder!.EncodeYuvPlanes(_y, Width, _u, _v, Width / 2, Width, Height, ChromaSubsampling.Yuv420, now);
            default:
                // YU12: Y, then U, then V planes (chroma stride is half the luma stride).
                var stride = _bytesPerLine;
                var ySize = stride * Height;
                var cSize = stride / 2 * (Height / 2);
                if (data.Length < ySize + (2 * cSize))
                {
                    LogDropped(_logger, _path, "short YU12 buffer");
                    return null;
                }

                return _encoder!.EncodeYuvPlanes(data[..ySize], stride, data.Slice(ySize, cSize), data.Slice(ySize + cSize, cSize), stride / 2,
                    Width, Height, ChromaSubsampling.Yuv420, now);
        }
    }

    /// <summary>
    /// Encodes deinterleaved YUYV (Y, and 4:2:2 U and V planes of width/2 x height) as 4:2:0, as µStreamer and most
    /// cameras' own JPEGs are: libturbojpeg reads every other chroma row (a chroma stride of two rows), so a third less
    /// to transform per frame than 4:2:2 and smaller frames for every viewer; the eye does not see the vertical chroma.
    /// </summary>
    internal static Frame EncodeYuyvPlanes(JpegEncoder encoder, byte[] y, byte[] u, byte[] v, int width, int height, DateTimeOffset capturedAt) =>
        encoder.EncodeYuvPlanes(y, width, u, v, width, width, height, ChromaSubsampling.Yuv420, capturedAt);

    /// <summary>
    /// When the driver filled the buffer, as wall-clock time (now minus its age, however old), so X-Timestamp and
    /// snapshot freshness count from the capture, not from the dequeue; now when the age is unknown.
    /// </summary>
    internal static DateTimeOffset CaptureTime(DateTimeOffset now, TimeSpan? age) => age is { } known ? now - known : now;

    private void Ioctl(uint request, void* argument, string name)
    {
        if (Libc.IoctlRetry(_fd, request, argument, out var errno) < 0)
        {
            throw new FrameSourceException($"v4l2: {name} on {_path} failed: {Libc.Describe(errno)}");
        }
    }

    public override void Close()
    {
        if (_fd < 0)
        {
            return;
        }

        var type = (int)V4l2Native.BufTypeVideoCapture;
        _ = Libc.IoctlRetry(_fd, V4l2Native.StreamOff, &type, out _);
        foreach (var (address, length) in _buffers)
        {
            _ = LibC.munmap((void*)address, length);
        }

        _buffers = [];
        var release = new V4l2RequestBuffers { Count = 0, Type = V4l2Native.BufTypeVideoCapture, Memory = V4l2Native.MemoryMmap };
        _ = Libc.IoctlRetry(_fd, V4l2Native.ReqBufs, &release, out _);
        _ = LibC.close(_fd);
        _fd = -1;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _encoder?.Dispose();
            _encoder = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "V4L2 {Path} ({Card}): negotiated {Format} {Width}x{Height} at {Fps:0.##} fps ({Reason})")]
    private static partial void LogNegotiated(ILogger logger, string path, string card, string format, int width, int height, double fps, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "V4L2 {Path}: skipped {Ready} ready buffer(s), the newest {AgeSeconds:0.000} s old; waiting for a fresh one")]
    private static partial void LogSkippedStale(ILogger logger, string path, double ageSeconds, int ready);

    [LoggerMessage(Level = LogLevel.Debug, Message = "V4L2 {Path}: frame dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string path, string reason);
}
