using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Appliance.Auth;

namespace Appliance.Events.Recording;

/// <summary>
/// An event's thumbnail, its clip replayed as a stream any <c>&lt;img&gt;</c> plays, and an mp4 copy made by ffmpeg
/// on demand; for whoever may watch the stream (the same policy as <c>/api/events</c>).
/// </summary>
internal static partial class ClipEndpoints
{
    /// <summary>One ffmpeg at a time: a Pi has little CPU, and two requests for one clip must not make it twice.</summary>
    private static readonly SemaphoreSlim Transcoding = new(1, 1);

    public static WebApplication MapClipsApi(this WebApplication app)
    {
        app.MapGet("/api/events/{id}/thumbnail.jpg", Thumbnail).RequireAuthorization(WebPolicies.Viewer);
        app.MapGet("/api/events/{id}/clip.mjpeg", ReplayAsync).RequireAuthorization(WebPolicies.Viewer);
        app.MapGet("/api/events/{id}/clip.mp4", Mp4Async).RequireAuthorization(WebPolicies.Viewer);
        return app;
    }

    /// <summary>The URLs /api/events gives for an event's clip (null when it has none), relative to the appliance.</summary>
    public static (string? Thumbnail, string? Clip) Links(HttpContext context, long id, ClipEntry? clip)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (clip is not { HasFiles: true })
        {
            return (null, null);
        }

        var prefix = $"{context.Request.PathBase}/api/events/{id.ToString(CultureInfo.InvariantCulture)}";
        return (clip.ThumbnailOffset is null ? null : prefix + "/thumbnail.jpg", clip.Frames > 0 || clip.State == "recording" ? prefix + "/clip.mjpeg" : null);
    }

    private static async Task<IResult> Thumbnail(string id, EventStore store, ClipFiles files, HttpContext context)
    {
        if (Find(id, store) is not ({ } number, { } clip) || clip is not { HasFiles: true, ThumbnailOffset: { } offset, ThumbnailLength: { } length })
        {
            return NotFound(id, "thumbnail");
        }

        var jpeg = new byte[length];
        try
        {
            using var handle = File.OpenHandle(files.ClipPath(number));
            if (await RandomAccess.ReadAsync(handle, jpeg, offset, context.RequestAborted).ConfigureAwait(false) != length)
            {
                return NotFound(id, "thumbnail");
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return NotFound(id, "thumbnail");
        }

        return Results.Bytes(jpeg, "image/jpeg");
    }

    /// <summary>The clip's parts sent as they are on disk (they are multipart already), each when its time comes.</summary>
    private static async Task ReplayAsync(string id, EventStore store, ClipFiles files, TimeProvider time, HttpContext context)
    {
        var response = context.Response;
        FileStream stream;
        if (Find(id, store) is not ({ } number, { HasFiles: true }))
        {
            await NotFound(id, "clip").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        try
        {
            stream = new FileStream(files.ClipPath(number), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            await NotFound(id, "clip").ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            var parts = ClipFormat.ReadParts(stream);
            response.ContentType = ClipFormat.StreamContentType;
            response.Headers.CacheControl = "no-store";
            var abort = context.RequestAborted;
            var buffer = new byte[64 * 1024];
            var started = time.GetTimestamp();
            try
            {
                foreach (var part in parts)
                {
                    var due = part.At - parts[0].At - time.GetElapsedTime(started);
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, time, abort).ConfigureAwait(false);
                    }

                    stream.Position = part.Start;
                    for (var left = part.End - part.Start; left > 0;)
                    {
                        var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), abort).ConfigureAwait(false);
                        if (read == 0)
                        {
                            break;
                        }

                        await response.Body.WriteAsync(buffer.AsMemory(0, read), abort).ConfigureAwait(false);
                        left -= read;
                    }

                    await response.Body.FlushAsync(abort).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                // The viewer left.
            }
        }
    }

    /// <summary>
    /// An mp4 (H.264) copy, made by ffmpeg the first time it is asked for and kept next to the clip (retention counts
    /// and removes it with the clip). ffmpeg's mpjpeg reader ignores the parts' times, so the clip's mean frame rate
    /// (its frames are taken at a steady Events:Fps) is given as the input rate.
    /// </summary>
    private static async Task<IResult> Mp4Async(string id, EventStore store, ClipFiles files, RecordingOptions options, ILoggerFactory loggers, HttpContext context)
    {
        if (Find(id, store) is not ({ } number, { } clip) || clip is not { HasFiles: true } || clip.Frames == 0)
        {
            return NotFound(id, "clip");
        }

        if (clip.State == "recording")
        {
            return Results.Text($"event {number} is still being recorded: ask for its mp4 when it has ended\n", "text/plain", statusCode: StatusCodes.Status409Conflict);
        }

        var mp4 = files.Mp4Path(number);
        if (!File.Exists(mp4))
        {
            await Transcoding.WaitAsync(context.RequestAborted).ConfigureAwait(false);
            try
            {
                if (!File.Exists(mp4) && await TranscodeAsync(files.ClipPath(number), mp4, clip, options, context.RequestAborted).ConfigureAwait(false) is { } failure)
                {
                    LogMp4Failed(loggers.CreateLogger(typeof(ClipEndpoints).FullName!), number, failure.Message);
                    return failure;
                }
            }
            finally
            {
                Transcoding.Release();
            }
        }

        return Results.File(mp4, "video/mp4", enableRangeProcessing: true);
    }

    private sealed record Failure(string Message, int Status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) =>
            Results.Text(Message + "\n", "text/plain", statusCode: Status).ExecuteAsync(httpContext);
    }

    private static async Task<Failure?> TranscodeAsync(string clipPath, string mp4, ClipEntry clip, RecordingOptions options, CancellationToken cancellationToken)
    {
        var seconds = clip.First is { } first && clip.Last is { } last ? (last - first).TotalSeconds : 0;
        var rate = clip.Frames > 1 && seconds > 0 ? (clip.Frames - 1) / seconds : options.Fps;
        var temporary = mp4 + ".tmp";
        var start = new ProcessStartInfo(options.FfmpegPath) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                     "-r", rate.ToString("0.###", CultureInfo.InvariantCulture), "-f", "mpjpeg", "-i", clipPath,
                     "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an", "-f", "mp4", temporary])
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("not started");
        }
        catch (Win32Exception ex)
        {
            return new Failure(
                $"the mp4 is made by ffmpeg, which could not be started ('{options.FfmpegPath}', Events:FfmpegPath: {ex.Message}); install it with: sudo apt install ffmpeg. The clip itself plays as clip.mjpeg.",
                StatusCodes.Status503ServiceUnavailable);
        }

        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                File.Delete(temporary);
                throw;
            }

            var tail = (await errors.ConfigureAwait(false)).Trim();
            if (process.ExitCode != 0)
            {
                File.Delete(temporary);
                return new Failure($"ffmpeg could not make the mp4 (exit status {process.ExitCode}): {(tail.Length > 500 ? tail[^500..] : tail)}", StatusCodes.Status500InternalServerError);
            }
        }

        AtomicFile.Commit(temporary, mp4);
        return null;
    }

    private static (long Id, ClipEntry? Clip)? Find(string id, EventStore store) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0 ? (number, store.GetClip(number)) : null;

    private static IResult NotFound(string id, string what) =>
        Results.Text($"event {id} has no {what}\n", "text/plain", statusCode: StatusCodes.Status404NotFound);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The mp4 of event {Id} could not be made: {Reason}")]
    private static partial void LogMp4Failed(ILogger logger, long id, string reason);
}
