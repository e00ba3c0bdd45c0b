using System.Runtime.InteropServices;
using Appliance.Hardware.Interop;
using Camera.Interop;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// A chip behind /dev/gpiochipN, driven through the uAPI v2 ioctls. Each pin is its own line request, kept open for
/// the chip's life; edge events of every input are read by one dedicated thread that polls their request fds.
/// </summary>
internal sealed unsafe partial class CharacterDeviceGpioChip : IGpioChip
{
    private readonly int _fd;
    private readonly string _path;
    private readonly string _name;
    private readonly string _label;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<Input> _inputs = [];
    private readonly List<IDisposable> _requests = [];
    private Thread? _eventThread;
    private volatile bool _stopping;

    private CharacterDeviceGpioChip(int fd, string path, string name, string label, int lines, ILogger logger)
    {
        _fd = fd;
        _path = path;
        _name = name;
        _label = label;
        LineCount = lines;
        _logger = logger;
    }

    public string Description => $"{_name} [{_label}] {LineCount} lines ({_path})";

    public int LineCount { get; }

    /// <summary>Opens the chip named by label (<c>pinctrl-bcm2711</c>), name (<c>gpiochip0</c>) or path.</summary>
    public static CharacterDeviceGpioChip Open(string chip, ILogger logger)
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

    private static CharacterDeviceGpioChip? OpenPath(string path, ILogger logger)
    {
        var fd = Libc.open(path, Libc.ReadWrite | Libc.CloseOnExec);
        if (fd < 0)
        {
            return null;
        }

        GpioChipInfo info;
        if (Libc.IoctlRetry(fd, GpioNative.GetChipInfo, &info, out var errno) < 0)
        {
            Libc.close(fd);
            throw new GpioException($"{path}: GPIO_GET_CHIPINFO failed: {Libc.Describe(errno)}.") { Errno = errno };
        }

        return new CharacterDeviceGpioChip(fd, path, Text(info.Name, 32), Text(info.Label, 32), (int)info.Lines, logger);
    }

    public IGpioOutput RequestOutput(string consumer, int line, bool activeLow, bool initialOn)
    {
        var request = NewRequest(consumer, line);
        request.Config.Flags = GpioNative.FlagOutput | (activeLow ? GpioNative.FlagActiveLow : 0);
        request.Config.NumAttributes = 1;
        request.Config.Attributes[0] = new GpioLineConfigAttribute
        {
            Attribute = new GpioLineAttribute { Id = GpioNative.AttributeOutputValues, Values = initialOn ? 1UL : 0UL },
            Mask = 1,
        };
        var fd = Request(ref request, line);
        var output = new Output(this, fd, initialOn);
        lock (_lock)
        {
            _requests.Add(output);
        }

        return output;
    }

    public IGpioInput RequestInput(string consumer, int line, bool activeLow, GpioBias bias, int debounceMs, GpioEdge edge, Action<GpioEdgeEvent> onEdge)
    {
        var request = NewRequest(consumer, line);
        request.Config.Flags = GpioNative.FlagInput | (activeLow ? GpioNative.FlagActiveLow : 0) | bias switch
        {
            GpioBias.PullUp => GpioNative.FlagBiasPullUp,
            GpioBias.PullDown => GpioNative.FlagBiasPullDown,
            GpioBias.Disabled => GpioNative.FlagBiasDisabled,
            _ => 0UL,
        } | edge switch
        {
            GpioEdge.Rising => GpioNative.FlagEdgeRising,
            GpioEdge.Falling => GpioNative.FlagEdgeFalling,
            GpioEdge.Both => GpioNative.FlagEdgeRising | GpioNative.FlagEdgeFalling,
            _ => 0UL,
        };
        if (debounceMs > 0)
        {
            request.Config.NumAttributes = 1;
            request.Config.Attributes[0] = new GpioLineConfigAttribute
            {
                Attribute = new GpioLineAttribute { Id = GpioNative.AttributeDebounce, DebouncePeriodMicroseconds = (uint)debounceMs * 1000 },
                Mask = 1,
            };
        }

        var fd = Request(ref request, line);
        var input = new Input(this, fd, line, onEdge);
        lock (_lock)
        {
            _requests.Add(input);
            if (edge != GpioEdge.None)
            {
                _inputs.Add(input);
                if (_eventThread is null)
                {
                    _eventThread = new Thread(ReadEvents) { IsBackground = true, Name = $"gpio-events {_name}" };
                    _eventThread.Start();
                }
            }
        }

        return input;
    }

    private GpioLineRequest NewRequest(string consumer, int line)
    {
        if (line < 0 || line >= LineCount)
        {
            throw new GpioException($"line {line} does not exist on {_name} [{_label}] (it has lines 0-{LineCount - 1}).");
        }

        var request = default(GpioLineRequest);
        request.Offsets[0] = (uint)line;
        request.NumLines = 1;
        var bytes = System.Text.Encoding.UTF8.GetBytes(consumer);
        for (var i = 0; i < Math.Min(bytes.Length, 31); i++)
        {
            request.Consumer[i] = bytes[i];
        }

        return request;
    }

    private int Request(ref GpioLineRequest request, int line)
    {
        fixed (GpioLineRequest* pointer = &request)
        {
            if (Libc.IoctlRetry(_fd, GpioNative.GetLine, pointer, out var errno) < 0)
            {
                var why = errno == Libc.EBusy ? $"line {line} is busy (in use by '{ConsumerOf(line)}')" : $"requesting line {line} failed: {Libc.Describe(errno)}";
                throw new GpioException($"{why} on {_name} [{_label}].") { Errno = errno };
            }
        }

        return request.Fd;
    }

    /// <summary>Who holds a line, from GPIO_V2_GET_LINEINFO (for the "busy" message).</summary>
    internal string ConsumerOf(int line)
    {
        var info = default(GpioLineInfo);
        info.Offset = (uint)line;
        return Libc.IoctlRetry(_fd, GpioNative.GetLineInfo, &info, out _) < 0 ? "unknown" : Text(info.Consumer, 32) is { Length: > 0 } c ? c : "unknown";
    }

    private void ReadEvents()
    {
        const int MaxPolled = 64;
        var events = stackalloc GpioLineEvent[16];
        var fds = stackalloc Libc.PollFd[MaxPolled];
        while (!_stopping)
        {
            Input[] inputs;
            lock (_lock)
            {
                inputs = [.. _inputs.Where(i => !i.Closed).Take(MaxPolled)];
            }

            for (var i = 0; i < inputs.Length; i++)
            {
                fds[i] = new Libc.PollFd { Fd = inputs[i].Fd, Events = Libc.PollIn };
            }

            // A bounded wait so the thread notices new inputs and shutdown.
            var ready = Libc.poll(fds, (nuint)inputs.Length, 200);
            if (ready <= 0)
            {
                continue;
            }

            for (var i = 0; i < inputs.Length; i++)
            {
                if ((fds[i].Revents & Libc.PollIn) == 0 || inputs[i].Closed)
                {
                    continue;
                }

                var read = Libc.read(inputs[i].Fd, events, (nuint)(16 * sizeof(GpioLineEvent)));
                for (var e = 0; e < read / sizeof(GpioLineEvent); e++)
                {
                    var ev = events[e];
                    if (inputs[i].LastSeqno is { } last && ev.LineSeqno > last + 1)
                    {
                        LogEventsDropped(_logger, (int)ev.Offset, ev.LineSeqno - last - 1);
                    }

                    inputs[i].LastSeqno = ev.LineSeqno;
                    try
                    {
                        inputs[i].OnEdge(new GpioEdgeEvent((int)ev.Offset, ev.Id == GpioNative.EventRisingEdge, ev.TimestampNanoseconds, ev.Seqno, ev.LineSeqno));
                    }
                    catch (Exception ex)
                    {
                        LogHandlerFailed(_logger, (int)ev.Offset, ex);
                    }
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _eventThread?.Join(TimeSpan.FromSeconds(2));
        lock (_lock)
        {
            foreach (var request in _requests)
            {
                request.Dispose();
            }

            _requests.Clear();
            _inputs.Clear();
        }

        Libc.close(_fd);
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

    private void Release(int fd, IDisposable request)
    {
        lock (_lock)
        {
            _requests.Remove(request);
            _inputs.RemoveAll(i => ReferenceEquals(i, request));
        }

        Libc.close(fd);
    }

    private sealed class Output(CharacterDeviceGpioChip chip, int fd, bool initial) : IGpioOutput
    {
        private bool _value = initial;
        private int _closed;

        public bool Value
        {
            get => _value;
            set
            {
                var values = new GpioLineValues { Bits = value ? 1UL : 0UL, Mask = 1 };
                if (Libc.IoctlRetry(fd, GpioNative.SetValues, &values, out var errno) < 0)
                {
                    throw new GpioException($"setting line failed: {Libc.Describe(errno)}.") { Errno = errno };
                }

                _value = value;
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                chip.Release(fd, this);
            }
        }
    }

    private sealed class Input(CharacterDeviceGpioChip chip, int fd, int line, Action<GpioEdgeEvent> onEdge) : IGpioInput
    {
        private int _closed;

        public int Fd => fd;

        public bool Closed => Volatile.Read(ref _closed) != 0;

        public uint? LastSeqno { get; set; }

        public Action<GpioEdgeEvent> OnEdge => onEdge;

        public bool Read()
        {
            var values = new GpioLineValues { Mask = 1 };
            if (Libc.IoctlRetry(fd, GpioNative.GetValues, &values, out var errno) < 0)
            {
                throw new GpioException($"reading line {line} failed: {Libc.Describe(errno)}.") { Errno = errno };
            }

            return (values.Bits & 1) != 0;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                chip.Release(fd, this);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "GPIO line {Line}: the kernel dropped {Count} edge events (reader too slow)")]
    private static partial void LogEventsDropped(ILogger logger, int line, uint count);

    [LoggerMessage(Level = LogLevel.Error, Message = "GPIO line {Line}: edge handler failed")]
    private static partial void LogHandlerFailed(ILogger logger, int line, Exception exception);
}
