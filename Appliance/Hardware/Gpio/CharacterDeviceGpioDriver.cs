using System.Runtime.InteropServices;
using Appliance.Hardware.Interop;
using Appliance.Interop;
using ChipInfo = Appliance.Hardware.Interop.GpioChipInfo;
using Tmds.Linux;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// A chip behind /dev/gpiochipN through the kernel's uAPI v2 ioctls, as a <see cref="System.Device.Gpio.GpioDriver"/>.
/// Our own because System.Device.Gpio 4.2 has no managed character-device driver (its LibGpiodV2Driver needs libgpiod
/// v2, and polls events every 100 ms; the v1 uAPI is compiled out of Debian's kernels). Each line is its own request,
/// kept open until the pin is closed (a line's state holds only while its request is open); a mode or edge change
/// reconfigures the same request. One dedicated thread blocks in poll() on every input's request fd plus an eventfd
/// that wakes it when the set changes or the driver is disposed.
/// </summary>
internal sealed unsafe partial class CharacterDeviceGpioDriver : ApplianceGpioDriver
{
    private readonly int _fd;
    private readonly string _path;
    private readonly string _name;
    private readonly string _label;
    private readonly int _lineCount;
    private readonly ILogger _logger;
    private readonly Dictionary<int, Request> _requests = [];
    private int _wakeFd = -1;
    private Thread? _eventThread;
    private volatile bool _stopping;
    private int _generation;
    private bool _disposed;

    private CharacterDeviceGpioDriver(int fd, string path, string name, string label, int lines, ILogger logger)
    {
        _fd = fd;
        _path = path;
        _name = name;
        _label = label;
        _lineCount = lines;
        _logger = logger;
    }

    public override string Description => $"{_name} [{_label}] {_lineCount} lines ({_path})";

    protected override int PinCount => _lineCount;

    /// <summary>Opens the chip named by label (<c>pinctrl-bcm2711</c>), name (<c>gpiochip0</c>) or path.</summary>
    public static CharacterDeviceGpioDriver Open(string chip, ILogger logger)
    {
        if (chip.StartsWith('/'))
        {
            return OpenPath(chip, logger) ?? throw new GpioException($"Gpio:Chip '{chip}' cannot be opened: {Libc.Describe(Marshal.GetLastPInvokeError())}.");
        }

        var seen = new List<string>();
        foreach (var path in ChipPaths())
        {
            var candidate = OpenPath(path, logger);
            if (candidate is null)
            {
                continue;
            }

            if (candidate._label == chip || candidate._name == chip)
            {
                return candidate;
            }

            seen.Add($"{candidate._name} [{candidate._label}]");
            candidate.Dispose();
        }

        throw new GpioException(seen.Count == 0
            ? $"Gpio:Chip '{chip}': no GPIO chip found (/dev/gpiochip* missing or not readable)."
            : $"Gpio:Chip '{chip}': no chip with that label; found {string.Join(", ", seen)}.");
    }

    /// <summary>Lists the chips on this machine (doctor, tests).</summary>
    public static IReadOnlyList<string> List(ILogger logger)
    {
        var chips = new List<string>();
        foreach (var path in ChipPaths())
        {
            using var chip = OpenPath(path, logger);
            if (chip is not null)
            {
                chips.Add(chip.Description);
            }
        }

        return chips;
    }

    private static IEnumerable<string> ChipPaths() =>
        Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order(StringComparer.Ordinal) : Enumerable.Empty<string>();

    private static CharacterDeviceGpioDriver? OpenPath(string path, ILogger logger)
    {
        var fd = Libc.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }

        ChipInfo info;
        if (Libc.IoctlRetry(fd, GpioNative.GetChipInfo, &info, out var errno) < 0)
        {
            _ = LibC.close(fd);
            throw new GpioException($"{path}: GPIO_GET_CHIPINFO failed: {Libc.Describe(errno)}.") { Errno = errno };
        }

        return new CharacterDeviceGpioDriver(fd, path, Text(info.Name, 32), Text(info.Label, 32), (int)info.Lines, logger);
    }

    protected override void ApplyRequest(int line, GpioLineRequestSettings settings)
    {
        var config = default(GpioLineConfig);
        config.Flags = Flags(settings);
        if (settings.Output)
        {
            // The initial value goes with the request (no glitch through the other level).
            config.NumAttributes = 1;
            config.Attributes[0] = new GpioLineConfigAttribute
            {
                Attribute = new GpioLineAttribute { Id = GpioNative.AttributeOutputValues, Values = settings.InitialValue ? 1UL : 0UL },
                Mask = 1,
            };
        }
        else if (settings.DebounceMs > 0)
        {
            config.NumAttributes = 1;
            config.Attributes[0] = new GpioLineConfigAttribute
            {
                Attribute = new GpioLineAttribute { Id = GpioNative.AttributeDebounce, DebouncePeriodMicroseconds = (uint)settings.DebounceMs * 1000 },
                Mask = 1,
            };
        }

        if (_requests.TryGetValue(line, out var existing))
        {
            // Same request, new configuration: the line is never released in between.
            if (Libc.IoctlRetry(existing.Fd, GpioNative.SetConfig, &config, out var errno) < 0)
            {
                throw new GpioException($"reconfiguring line {line} failed: {Libc.Describe(errno)} on {_name} [{_label}].") { Errno = errno };
            }

            existing.Edges = settings.Edges;
        }
        else
        {
            var request = default(GpioLineRequest);
            request.Offsets[0] = (uint)line;
            request.NumLines = 1;
            request.Config = config;
            var bytes = System.Text.Encoding.UTF8.GetBytes(settings.Consumer);
            for (var i = 0; i < Math.Min(bytes.Length, 31); i++)
            {
                request.Consumer[i] = bytes[i];
            }

            if (Libc.IoctlRetry(_fd, GpioNative.GetLine, &request, out var errno) < 0)
            {
                var why = errno == LibC.EBUSY ? $"line {line} is busy (in use by '{ConsumerOf(line)}')" : $"requesting line {line} failed: {Libc.Describe(errno)}";
                throw new GpioException($"{why} on {_name} [{_label}].") { Errno = errno };
            }

            _requests.Add(line, new Request(request.Fd) { Edges = settings.Edges });
        }

        if (settings.Edges != GpioEdge.None)
        {
            StartEventThread();
        }

        Wake();
    }

    private static ulong Flags(GpioLineRequestSettings settings)
    {
        var flags = settings.Output ? GpioNative.FlagOutput : GpioNative.FlagInput;
        if (settings.ActiveLow)
        {
            flags |= GpioNative.FlagActiveLow;
        }

        flags |= settings.Bias switch
        {
            GpioBias.PullUp => GpioNative.FlagBiasPullUp,
            GpioBias.PullDown => GpioNative.FlagBiasPullDown,
            GpioBias.Disabled => GpioNative.FlagBiasDisabled,
            _ => 0UL,
        };
        return flags | settings.Edges switch
        {
            GpioEdge.Rising => GpioNative.FlagEdgeRising,
            GpioEdge.Falling => GpioNative.FlagEdgeFalling,
            GpioEdge.Both => GpioNative.FlagEdgeRising | GpioNative.FlagEdgeFalling,
            _ => 0UL,
        };
    }

    protected override void ReleaseRequest(int line)
    {
        if (_requests.Remove(line, out var request))
        {
            // Closed under SyncRoot: the event thread reads a request fd only under it, after checking it is still current.
            _ = LibC.close(request.Fd);
            Wake();
        }
    }

    protected override bool ReadLine(int line)
    {
        var values = new GpioLineValues { Mask = 1 };
        if (Libc.IoctlRetry(FdOf(line), GpioNative.GetValues, &values, out var errno) < 0)
        {
            throw new GpioException($"reading line {line} failed: {Libc.Describe(errno)}.") { Errno = errno };
        }

        return (values.Bits & 1) != 0;
    }

    protected override void WriteLine(int line, bool value)
    {
        var values = new GpioLineValues { Bits = value ? 1UL : 0UL, Mask = 1 };
        if (Libc.IoctlRetry(FdOf(line), GpioNative.SetValues, &values, out var errno) < 0)
        {
            throw new GpioException($"setting line {line} failed: {Libc.Describe(errno)}.") { Errno = errno };
        }
    }

    private int FdOf(int line) =>
        _requests.TryGetValue(line, out var request) ? request.Fd : throw new InvalidOperationException($"line {line} is not requested.");

    /// <summary>Who holds a line, from GPIO_V2_GET_LINEINFO (for the "busy" message).</summary>
    internal string ConsumerOf(int line)
    {
        var info = default(GpioLineInfo);
        info.Offset = (uint)line;
        return Libc.IoctlRetry(_fd, GpioNative.GetLineInfo, &info, out _) < 0 ? "unknown" : Text(info.Consumer, 32) is { Length: > 0 } c ? c : "unknown";
    }

    private void StartEventThread()
    {
        if (_eventThread is not null)
        {
            return;
        }

        _wakeFd = EventFd.Create();
        _eventThread = new Thread(ReadEvents) { IsBackground = true, Name = $"gpio-events {_name}" };
        _eventThread.Start();
    }

    /// <summary>Makes the event thread rebuild its poll set (called under SyncRoot).</summary>
    private void Wake()
    {
        _generation++;
        if (_wakeFd >= 0)
        {
            EventFd.Signal(_wakeFd);
        }
    }

    private void ReadEvents()
    {
        const int BatchSize = 16;
        var events = new GpioLineEvent[BatchSize];
        var received = new List<GpioEdgeEvent>();
        pollfd[] fds = [];
        (int Line, Request Request)[] polled = [];
        var generation = -1;
        while (!_stopping)
        {
            lock (SyncRoot)
            {
                if (generation != _generation)
                {
                    generation = _generation;
                    polled = [.. _requests.Where(r => r.Value.Edges != GpioEdge.None).Select(r => (r.Key, r.Value))];
                    fds = new pollfd[polled.Length + 1];
                    fds[0] = new pollfd { fd = _wakeFd, events = LibC.POLLIN };
                    for (var i = 0; i < polled.Length; i++)
                    {
                        fds[i + 1] = new pollfd { fd = polled[i].Request.Fd, events = LibC.POLLIN };
                    }
                }
            }

            int ready;
            fixed (pollfd* pointer = fds)
            {
                // Blocks until an edge or a wake-up: no timeout, no polling interval.
                ready = LibC.poll(pointer, (uint)fds.Length, -1);
            }

            if (ready <= 0)
            {
                continue;
            }

            if ((fds[0].revents & LibC.POLLIN) != 0)
            {
                EventFd.Drain(_wakeFd);
            }

            received.Clear();
            lock (SyncRoot)
            {
                for (var i = 0; i < polled.Length; i++)
                {
                    var (line, request) = polled[i];
                    if ((fds[i + 1].revents & LibC.POLLIN) == 0 || !_requests.TryGetValue(line, out var current) || !ReferenceEquals(current, request))
                    {
                        continue;
                    }

                    long read;
                    fixed (GpioLineEvent* buffer = events)
                    {
                        read = LibC.read(request.Fd, buffer, BatchSize * sizeof(GpioLineEvent));
                    }

                    for (var e = 0; e < read / sizeof(GpioLineEvent); e++)
                    {
                        var ev = events[e];
                        if (request.LastSeqno is { } last && ev.LineSeqno > last + 1)
                        {
                            LogEventsDropped(_logger, (int)ev.Offset, ev.LineSeqno - last - 1);
                        }

                        request.LastSeqno = ev.LineSeqno;
                        received.Add(new GpioEdgeEvent((int)ev.Offset, ev.Id == GpioNative.EventRisingEdge, ev.TimestampNanoseconds, ev.Seqno, ev.LineSeqno));
                    }
                }
            }

            foreach (var edge in received)
            {
                try
                {
                    Deliver(edge);
                }
                catch (Exception ex)
                {
                    LogHandlerFailed(_logger, edge.Line, ex);
                }
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        lock (SyncRoot)
        {
            Wake();
        }

        if (_eventThread is not null && Thread.CurrentThread != _eventThread)
        {
            _eventThread.Join(TimeSpan.FromSeconds(2));
        }

        base.Dispose(disposing);
        lock (SyncRoot)
        {
            foreach (var request in _requests.Values)
            {
                _ = LibC.close(request.Fd);
            }

            _requests.Clear();
            if (_wakeFd >= 0)
            {
                _ = LibC.close(_wakeFd);
                _wakeFd = -1;
            }
        }

        _ = LibC.close(_fd);
    }

    private static string Text(byte* bytes, int max)
    {
        var length = 0;
        while (length < max && bytes[length] != 0)
        {
            length++;
        }

        return System.Text.Encoding.UTF8.GetString(bytes, length);
    }

    private sealed class Request(int fd)
    {
        public int Fd => fd;

        public GpioEdge Edges { get; set; }

        public uint? LastSeqno { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "GPIO line {Line}: the kernel dropped {Count} edge events (reader too slow)")]
    private static partial void LogEventsDropped(ILogger logger, int line, uint count);

    [LoggerMessage(Level = LogLevel.Error, Message = "GPIO line {Line}: edge handler failed")]
    private static partial void LogHandlerFailed(ILogger logger, int line, Exception exception);
}
