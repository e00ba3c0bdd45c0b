using System.Diagnostics;
using System.Globalization;
using Appliance.WeCom.Api;
using Camera;

namespace Appliance.WeCom.Commands;

/// <summary>
/// 录像 / video [seconds]: frames from the hub for 1–30 s (default 5), encoded to MP4 by ffmpeg at a constant rate
/// (frames repeated or skipped onto the time grid), uploaded as video. Clear answers when ffmpeg is absent or the
/// clip exceeds WeCom's 10 MB video limit.
/// </summary>
internal sealed partial class VideoCommand(FrameHub hub, CameraOptions camera, WeComOptions options, WeComApiClient api, StateDirectory state, TimeProvider time, ILogger<VideoCommand> logger) : IWeComCommand
{
    public const int DefaultSeconds = 5;
    public const int MaxSeconds = 30;

    public IReadOnlyList<string> Names { get; } = ["录像", "video", "clip"];

    public string Help => $"录像 / video [秒 seconds] — 短视频 a clip (default {DefaultSeconds} s, max {MaxSeconds})";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public bool OnTimeline => true;

    public async Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        if (ParseSeconds(context.Arguments) is not { } seconds)
        {
            return new TextMessage($"录像时长应为 1–{MaxSeconds} 秒。Give the length in seconds, 1–{MaxSeconds} (e.g. \"video 10\").");
        }

        if (ResolveFfmpeg() is not { } ffmpeg)
        {
            return new TextMessage($"没有安装 ffmpeg，无法录像。Clips need ffmpeg, which is not installed ({options.FfmpegPath}); try 拍照/photo.");
        }

        var path = state.File($"wecom-clip-{Guid.NewGuid():N}.mp4");
        try
        {
            var problem = await RecordAsync(ffmpeg, path, seconds, cancellationToken);
            if (problem is not null)
            {
                return new TextMessage($"录像失败 The clip failed: {problem}");
            }

            var size = new FileInfo(path).Length;
            if (size > WeComApiClient.MaxBytes(MediaType.Video))
            {
                return new TextMessage($"视频太大 The clip is {size / 1048576.0:0.0} MB, over WeCom's 10 MB limit; try a shorter one.");
            }

            var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
            var upload = await api.UploadMediaAsync(MediaType.Video, "clip.mp4", "video/mp4", bytes, cancellationToken);
            return upload.IsSuccess
                ? new VideoMessage(upload.Value!.MediaId, "录像 Clip", $"{seconds} s, {time.GetLocalNow():HH:mm:ss}")
                : new TextMessage($"视频上传失败 The clip could not be uploaded: {upload.Error}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The clip's length from "", "10", "10s" or "10秒": the default when absent, capped at <see cref="MaxSeconds"/>, null when not a length.</summary>
    internal static int? ParseSeconds(string arguments)
    {
        if (arguments.Length == 0)
        {
            return DefaultSeconds;
        }

        // "10", "10s", "10 秒", "10秒钟" (full-width digits are already ASCII: the registry normalises the text).
        var number = arguments.Trim();
        foreach (var unit in (string[])["秒钟", "秒", "seconds", "second", "secs", "sec", "s"])
        {
            if (number.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
            {
                number = number[..^unit.Length].TrimEnd();
                break;
            }
        }

        return int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 1
            ? Math.Min(seconds, MaxSeconds)
            : null;
    }

    private string? ResolveFfmpeg()
    {
        var configured = options.FfmpegPath;
        if (configured.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(configured) ? configured : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, configured);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private async Task<string?> RecordAsync(string ffmpeg, string path, int seconds, CancellationToken cancellationToken)
    {
        var fps = Math.Clamp(camera.Fps, 1, 15);
        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["-hide_banner", "-loglevel", "error", "-f", "mjpeg", "-framerate", fps.ToString(CultureInfo.InvariantCulture), "-i", "pipe:0",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", "-y", path])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var written = 0;
        try
        {
            using var viewer = hub.RegisterViewer();
            var began = time.GetTimestamp();
            var total = seconds * fps;
            long after = 0;
            Frame? current = null;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(seconds + 5));
                while (written < total)
                {
                    var next = await hub.NextAsync(after, timeout.Token);
                    current?.Release();
                    current = next;
                    after = next.Sequence;

                    // Place frames on the constant-rate grid: repeat when the camera is slower, skip when faster.
                    var due = Math.Min(total, (int)(time.GetElapsedTime(began).TotalSeconds * fps) + 1);
                    while (written < due)
                    {
                        await process.StandardInput.BaseStream.WriteAsync(current.Jpeg, cancellationToken);
                        written++;
                    }
                }
            }
            finally
            {
                current?.Release();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogNoFrames(logger, written);
        }
        catch (IOException ex)
        {
            LogFfmpegFailed(logger, ex.Message);
        }
        finally
        {
            process.StandardInput.Close();
        }

        await process.WaitForExitAsync(cancellationToken);
        var stderr = (await errors).Trim();
        if (process.ExitCode != 0 || written == 0)
        {
            LogFfmpegFailed(logger, stderr);
            return written == 0 ? "no frames came from the camera" : $"ffmpeg exited with {process.ExitCode}: {stderr.Split('\n')[0]}";
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Clip stopped early after {Frames} frames: the camera stopped delivering")]
    private static partial void LogNoFrames(ILogger logger, int frames);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ffmpeg failed: {Reason}")]
    private static partial void LogFfmpegFailed(ILogger logger, string reason);
}
