using System.Diagnostics;
using System.ComponentModel;
using Camera.Jpeg;
using Microsoft.Extensions.Logging;

namespace Camera.Sources;

/// <summary>
/// Runs <c>rpicam-vid</c> (or <c>libcamera-vid</c>, or <c>Camera:Command</c> through /bin/sh) with MJPEG on stdout
/// and splits it into frames on a reader thread that keeps only the newest. The capture service restarts it with
/// backoff when it dies; its stderr goes to the log.
/// </summary>
public sealed partial class RpicamSource : FrameSource
{
    private static readonly string[] DefaultCommands = ["rpicam-vid", "libcamera-vid"];

    private readonly CameraOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _frameReady = new(0, 1);
    private Process? _process;
    private Thread? _reader;
    private Frame? _newest;
    private string? _failure;
    private string _commandLine = "";
    private string? _lastStderr;

    public RpicamSource(CameraOptions options, ILogger<RpicamSource> logger, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? TimeProvider.System;
    }

    public override string Name => "rpicam";

    public override bool IsSelfPaced => true;

    public override string Description => $"rpicam ({_commandLine}) {Width}x{Height}";

    /// <summary>Finds the first of rpicam-vid, libcamera-vid on PATH, or null.</summary>
    public static string? FindDefaultCommand() =>
        DefaultCommands.FirstOrDefault(name => FindOnPath(name) is not null);

    public override void Open(CancellationToken cancellationToken)
    {
        Close();
        Width = _options.Width;
        Height = _options.Height;
        ProcessStartInfo start;
        if (!string.IsNullOrWhiteSpace(_options.Command))
        {
            _commandLine = _options.Command;
            start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", _options.Command } };
        }
        else
        {
            var tool = FindDefaultCommand() ?? throw new FrameSourceException(
                "Neither rpicam-vid nor libcamera-vid is installed (sudo apt install rpicam-apps).");
            start = new ProcessStartInfo(tool);
            foreach (var argument in new[]
            {
                "-t", "0", "-n", "--codec", "mjpeg", "-q", $"{_options.Quality}",
                "--width", $"{_options.Width}", "--height", $"{_options.Height}", "--framerate", $"{_options.Fps}",
                "--flush", "-o", "-",
            })
            {
                start.ArgumentList.Add(argument);
            }

            _commandLine = $"{tool} {string.Join(' ', start.ArgumentList)}";
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        _failure = null;
        try
        {
            _process = Process.Start(start) ?? throw new FrameSourceException($"Could not start '{_commandLine}'.");
        }
        catch (Win32Exception ex)
        {
            throw new FrameSourceException($"Could not start '{_commandLine}': {ex.Message}", ex);
        }

        var process = _process;
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                _lastStderr = e.Data;
                LogStderr(_logger, e.Data);
            }
        };
        process.BeginErrorReadLine();
        _reader = new Thread(() => ReadLoop(process)) { IsBackground = true, Name = "rpicam reader" };
        _reader.Start();
    }

    private void ReadLoop(Process process)
    {
        try
        {
            using var splitter = new MjpegSplitter(process.StandardOutput.BaseStream);
            while (splitter.TryReadFrame(out var jpeg))
            {
                var frame = JpegMarkers.ToFrame(jpeg.Span, _time.GetUtcNow(), out var reason);
                if (frame is null)
                {
                    LogDroppedFrame(_logger, reason ?? "invalid");
                    continue;
                }

                Frame? previous;
                lock (_gate)
                {
                    previous = _newest;
                    _newest = frame;
                }

                previous?.Release();
                if (_frameReady.CurrentCount == 0)
                {
                    try
                    {
                        _frameReady.Release();
                    }
                    catch (SemaphoreFullException)
                    {
                        // Already signalled: the consumer will take the newest frame.
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            _failure = ex.Message;
        }

        string code;
        try
        {
            process.WaitForExit(2000);
            code = process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unknown";
        }
        catch (InvalidOperationException)
        {
            code = "unknown"; // closed under us
        }

        _failure = $"'{_commandLine}' stopped (exit code {code}){(_lastStderr is null ? "" : $": {_lastStderr}")}";
        try
        {
            _frameReady.Release();
        }
        catch (SemaphoreFullException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signalled = _frameReady.Wait(timeout, cancellationToken);
        lock (_gate)
        {
            var frame = _newest;
            _newest = null;
            if (frame is not null)
            {
                Width = frame.Width;
                Height = frame.Height;
                return frame;
            }
        }

        if (_failure is { } failure)
        {
            throw new FrameSourceException(failure);
        }

        return signalled ? ReadFrame(TimeSpan.Zero, cancellationToken) : null;
    }

    public override void Close()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(2000);
                }
            }
            catch (InvalidOperationException)
            {
            }
        }

        // The reader ends when stdout closes; it must finish with the process before the process is disposed.
        _reader?.Join(3000);
        _reader = null;
        process?.Dispose();
        lock (_gate)
        {
            _newest?.Release();
            _newest = null;
        }

        while (_frameReady.CurrentCount > 0)
        {
            _frameReady.Wait(0);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _frameReady.Dispose();
        }
    }

    private static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "rpicam: {Line}")]
    private static partial void LogStderr(ILogger logger, string line);

    [LoggerMessage(Level = LogLevel.Debug, Message = "rpicam: dropped a frame ({Reason})")]
    private static partial void LogDroppedFrame(ILogger logger, string reason);
}
