using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.WeCom.Api;

namespace Appliance.Scoring;

/// <summary>One rating to do: the voice's media id and the client's Base64 meta (or one built here).</summary>
public sealed record RatingRequest(string MediaId, string MetaBase64, ScoringMediaSource Source, string? AccessToken = null, JsonObject? Meta = null);

/// <summary>What the HTTP client gets: the scorer's JSON verbatim, or an error in the original's shape.</summary>
public sealed record RatingOutcome(int HttpStatus, byte[] Body, bool FromScorer, int RetryAfterSeconds = 0)
{
    /// <summary><c>{"status": …, "msg": …, "flag": 1}</c> as the original backend answered.</summary>
    public static RatingOutcome Error(int status, string message, int httpStatus = StatusCodes.Status200OK, int retryAfter = 0)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteNumber("status", status);
            writer.WriteString("msg", message);
            writer.WriteNumber("flag", 1);
            writer.WriteEndObject();
        }

        return new RatingOutcome(httpStatus, stream.ToArray(), false, retryAfter);
    }

    /// <summary>The status field of the body (the scorer's or ours).</summary>
    public int Status
    {
        get
        {
            try
            {
                using var document = JsonDocument.Parse(Body);
                return document.RootElement.TryGetProperty("status", out var s) && s.TryGetInt32(out var v) ? v : int.MinValue;
            }
            catch (JsonException)
            {
                return int.MinValue;
            }
        }
    }
}

/// <summary>The voice could not be used (WeChat error, empty, too large, not audio); status -100 with the reason.</summary>
internal sealed class AudioRejectedException(string message) : Exception(message)
{
    public AudioRejectedException()
        : this("audio rejected")
    {
    }

    public AudioRejectedException(string message, Exception innerException)
        : this(message + ": " + innerException?.Message)
    {
    }
}

/// <summary>
/// Downloads the voice and streams it to the scorer while it downloads: Speex frame by frame, AMR through ffmpeg
/// into PCM. Bounded by a concurrency limit, the download and scoring timeouts and the client's own lifetime.
/// </summary>
public sealed partial class RatingService
{
    public const int StatusBadParams = -1;
    public const int StatusCapacity = -40;
    public const int StatusNoCompute = -99;
    public const int StatusUnknown = -100;

    private const int PcmChunkBytes = 6400; // 200 ms of s16le 16 kHz mono

    private readonly ScoringOptions _options;
    private readonly WeChatHttp _wechat;
    private readonly OfficialAccountTokens _tokens;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger<RatingService> _logger;
    private readonly Uri? _scorer;
    private int _inFlight;
    private long _completed;
    private long _failed;
    private long _busy;

    public RatingService(ScoringOptions options, WeChatHttp wechat, OfficialAccountTokens tokens, IServiceProvider services, TimeProvider time, ILogger<RatingService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _wechat = wechat;
        _tokens = tokens;
        _services = services;
        _time = time;
        _logger = logger;
        _scorer = options.IsConfigured ? new Uri(options.ScorerUrl) : null;
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Rates one voice. Cancelled by <paramref name="clientGone"/> (the HTTP client left): throws OperationCanceledException.</summary>
    public async Task<RatingOutcome> RateAsync(RatingRequest request, CancellationToken clientGone)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_scorer is null)
        {
            return RatingOutcome.Error(StatusNoCompute, "scoring is not configured on this appliance (Scoring:ScorerUrl)", StatusCodes.Status503ServiceUnavailable);
        }

        string meta;
        try
        {
            meta = PrepareMeta(request);
        }
        catch (InvalidMetaException ex)
        {
            return RatingOutcome.Error(StatusBadParams, ex.Message, StatusCodes.Status400BadRequest);
        }

        if (Interlocked.Increment(ref _inFlight) > _options.MaxConcurrent)
        {
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _busy);
            LogBusy(_logger, _options.MaxConcurrent);
            return RatingOutcome.Error(StatusCapacity, $"the appliance is busy ({_options.MaxConcurrent} ratings in progress); try again shortly",
                StatusCodes.Status503ServiceUnavailable, _options.RetryAfterSeconds);
        }

        var phase = new Phase();
        using var download = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        using var scoring = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        download.CancelAfter(_options.DownloadTimeout);
        scoring.CancelAfter(_options.ScoringTimeout);
        var session = new ScorerSession(_scorer, meta, scoring.Token);
        try
        {
            if (request.Source == ScoringMediaSource.WeCom)
            {
                await StreamAmrAsync(request.MediaId, session, phase, download.Token, scoring.Token);
            }
            else
            {
                await StreamSpeexAsync(request, session, phase, download.Token);
            }

            var answer = await session.FinishAsync();
            Interlocked.Increment(ref _completed);
            return new RatingOutcome(StatusCodes.Status200OK, answer, true);
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
        {
            LogClientGone(_logger, request.MediaId, phase.DownloadDone);
            throw;
        }
        catch (Exception ex) when (Describe(ex, phase, download, scoring) is { } reason)
        {
            Interlocked.Increment(ref _failed);
            LogFailed(_logger, request.MediaId, reason);
            return RatingOutcome.Error(StatusUnknown, reason);
        }
        finally
        {
            await session.DisposeAsync();
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private string? Describe(Exception ex, Phase phase, CancellationTokenSource download, CancellationTokenSource scoring) => ex switch
    {
        AudioRejectedException or ScorerException => ex.Message,
        OperationCanceledException when download.IsCancellationRequested && !phase.DownloadDone =>
            $"the voice download did not finish within {_options.DownloadTimeout.TotalSeconds:0.#} s",
        OperationCanceledException when scoring.IsCancellationRequested =>
            $"the scorer did not answer within {_options.ScoringTimeout.TotalSeconds:0.#} s",
        System.Net.WebSockets.WebSocketException ws => $"the scorer connection failed ({ws.Message})",
        HttpRequestException or IOException when !phase.DownloadDone => $"WeChat media download failed ({ex.Message})",
        _ => null,
    };

    private string PrepareMeta(RatingRequest request)
    {
        var meta = request.Meta ?? ScoringMeta.Decode(request.MetaBase64);
        if (request.Source == ScoringMediaSource.WeCom)
        {
            ScoringMeta.DescribePcm(meta);
        }

        if (_options.Signs)
        {
            return ScoringMeta.Sign(meta, _options.AppId, _options.Secret, _time);
        }

        if (request.Source == ScoringMediaSource.WeCom || request.Meta is not null)
        {
            throw new InvalidMetaException("the PCM meta must be re-signed: set Scoring:AppId and Scoring:Secret");
        }

        // No secret here: the client's meta goes to the scorer exactly as it came (its hash is the client's business).
        return request.MetaBase64;
    }

    /// <summary>media/get/jssdk: Speex frames forwarded as they arrive, each with its 4-byte little-endian length.</summary>
    private async Task StreamSpeexAsync(RatingRequest request, ScorerSession session, Phase phase, CancellationToken cancellationToken)
    {
        var usingOwnToken = string.IsNullOrEmpty(request.AccessToken);
        for (var attempt = 0; ; attempt++)
        {
            string token;
            try
            {
                token = usingOwnToken ? await _tokens.Cache.GetAsync(cancellationToken) : request.AccessToken!;
            }
            catch (AccessTokenException ex)
            {
                throw new AudioRejectedException($"no WeChat access token: {ex.Message}");
            }

            var uri = _wechat.Uri($"cgi-bin/media/get/jssdk?access_token={Uri.EscapeDataString(token)}&media_id={Uri.EscapeDataString(request.MediaId)}");
            using var response = await _wechat.Client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var contentType = response.Content.Headers.ContentType?.MediaType ?? "";
            if (contentType is "application/json" or "text/plain" || response.StatusCode != HttpStatusCode.OK)
            {
                var (code, message) = await ReadWeChatErrorAsync(response, cancellationToken);
                if (code is WeComApiClient.InvalidCredential or WeComApiClient.InvalidAccessToken or WeComApiClient.AccessTokenExpired && usingOwnToken && attempt == 0)
                {
                    _tokens.Cache.Invalidate(token);
                    continue;
                }

                throw new AudioRejectedException(code != 0
                    ? $"WeChat media download failed: {code} {message}"
                    : $"WeChat media download failed: HTTP {(int)response.StatusCode} {message}");
            }

            if (!IsAudio(contentType))
            {
                throw new AudioRejectedException($"WeChat answered {contentType}, not voice");
            }

            if (response.Content.Headers.ContentLength is { } announced && announced > _options.MaxAudioBytes)
            {
                throw new AudioRejectedException($"the voice is {announced} bytes, more than Scoring:MaxAudioBytes ({_options.MaxAudioBytes})");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await PumpSpeexAsync(body, session, cancellationToken);
            phase.DownloadDone = true;
            return;
        }
    }

    private async Task PumpSpeexAsync(Stream body, ScorerSession session, CancellationToken cancellationToken)
    {
        var frameBytes = _options.SpeexFrameBytes;
        var input = ArrayPool<byte>.Shared.Rent(Math.Max(4096, frameBytes * 2));
        var output = ArrayPool<byte>.Shared.Rent((input.Length / frameBytes + 1) * (frameBytes + 4));
        long total = 0;
        var pending = 0;
        try
        {
            int read;
            while ((read = await body.ReadAsync(input.AsMemory(pending), cancellationToken)) > 0)
            {
                total += read;
                if (total > _options.MaxAudioBytes)
                {
                    throw new AudioRejectedException($"the voice is more than Scoring:MaxAudioBytes ({_options.MaxAudioBytes}); download stopped");
                }

                pending += read;
                var frames = pending / frameBytes;
                var written = 0;
                for (var i = 0; i < frames; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(output.AsSpan(written), frameBytes);
                    input.AsSpan(i * frameBytes, frameBytes).CopyTo(output.AsSpan(written + 4));
                    written += frameBytes + 4;
                    if (!_options.CoalesceFrames)
                    {
                        await session.SendAsync(output.AsMemory(0, written));
                        written = 0;
                    }
                }

                if (written > 0)
                {
                    await session.SendAsync(output.AsMemory(0, written));
                }

                var consumed = frames * frameBytes;
                if (consumed > 0 && pending > consumed)
                {
                    input.AsSpan(consumed, pending - consumed).CopyTo(input);
                }

                pending -= consumed;
                if (session.HasAnswered)
                {
                    return;
                }
            }

            if (total == 0)
            {
                throw new AudioRejectedException("WeChat answered an empty voice");
            }

            if (!session.Connected)
            {
                throw new AudioRejectedException($"the voice is {total} bytes, less than one {frameBytes}-byte Speex frame");
            }

            if (pending > 0)
            {
                LogPartialFrame(_logger, pending);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>WeCom media/get into ffmpeg's stdin; its PCM stdout goes to the scorer as it is decoded.</summary>
    private async Task StreamAmrAsync(string mediaId, ScorerSession session, Phase phase, CancellationToken downloadToken, CancellationToken scoringToken)
    {
        var api = _services.GetRequiredService<WeComApiClient>();
        using var ffmpeg = AmrTranscoder.Start(_options.FfmpegPath);
        using var stopFeed = CancellationTokenSource.CreateLinkedTokenSource(downloadToken);
        var feed = FeedAsync();
        var buffer = ArrayPool<byte>.Shared.Rent(PcmChunkBytes);
        long produced = 0;
        var decodeFailed = false;
        try
        {
            var stdout = ffmpeg.Output;
            while (true)
            {
                // Whole chunks keep samples aligned; the last one may be shorter.
                var filled = await stdout.ReadAtLeastAsync(buffer.AsMemory(0, PcmChunkBytes), PcmChunkBytes, throwOnEndOfStream: false, scoringToken);
                if (filled == 0)
                {
                    break;
                }

                produced += filled;
                await session.SendAsync(buffer.AsMemory(0, filled & ~1));
                if (session.HasAnswered)
                {
                    // The scorer answered (or refused, or closed) before the end: nobody reads ffmpeg's output any more,
                    // so stop it and the download at once instead of waiting for them to finish into a full pipe.
                    await StopFeedAsync();
                    return;
                }
            }

            // ffmpeg ended its output. When it gave up on the voice itself (-xerror: corrupt frames), that is the
            // reason, whatever the download then ran into (a broken pipe).
            try
            {
                await ffmpeg.WaitAsync(scoringToken);
            }
            catch (AudioRejectedException)
            {
                decodeFailed = true;
                throw;
            }

            await feed;
            if (produced == 0)
            {
                throw new AudioRejectedException($"ffmpeg decoded no audio from the AMR voice ({ffmpeg.ErrorTail})");
            }
        }
        catch when (decodeFailed)
        {
            await StopFeedAsync();
            throw;
        }
        catch when (feed.IsCompleted)
        {
            // The download ended first: when it was refused, its reason is the clearer one.
            ffmpeg.Kill();
            if (feed.Exception?.InnerException is AudioRejectedException rejected)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(rejected);
            }

            throw;
        }
        catch
        {
            // Scoring failed while the download was still under way: its broken pipe is a consequence, not the cause.
            await StopFeedAsync();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        async Task StopFeedAsync()
        {
            await stopFeed.CancelAsync();
            ffmpeg.Kill();
            try
            {
                await feed;
            }
            catch (Exception ex) when (ex is AudioRejectedException or IOException or OperationCanceledException or InvalidOperationException)
            {
            }
        }

        async Task FeedAsync()
        {
            try
            {
                await using var guard = new AmrInputGuard(ffmpeg.Input, _options.MaxAudioBytes);
                var result = await api.GetMediaAsync(mediaId, guard, stopFeed.Token);
                if (!result.IsSuccess)
                {
                    ffmpeg.Kill();
                    throw new AudioRejectedException($"WeCom media download failed: {result.Error}");
                }

                if (guard.Written == 0)
                {
                    ffmpeg.Kill();
                    throw new AudioRejectedException("WeCom answered an empty voice");
                }

                // Before ffmpeg's input is closed: a voice cut short inside a frame (or with no frames) is refused
                // here, and ffmpeg is killed, instead of being decoded and scored.
                guard.Complete();
                phase.DownloadDone = true;
            }
            catch (AudioRejectedException)
            {
                ffmpeg.Kill();
                throw;
            }
            finally
            {
                ffmpeg.CloseInput();
            }
        }
    }

    private static bool IsAudio(string contentType) =>
        contentType.StartsWith("voice/", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("audio/", StringComparison.OrdinalIgnoreCase)
        || contentType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase);

    private static async Task<(int Code, string Message)> ReadWeChatErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var count = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, count));
            var root = document.RootElement;
            var code = root.TryGetProperty("errcode", out var c) && c.TryGetInt32(out var v) ? v : 0;
            var message = root.TryGetProperty("errmsg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() ?? "" : "";
            return (code, WeComApiClient.Shorten(message));
        }
        catch (JsonException)
        {
            return (0, "(not JSON)");
        }
    }

    private sealed class Phase
    {
        public volatile bool DownloadDone;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rating refused: {Max} ratings already in progress (Scoring:MaxConcurrent)")]
    private static partial void LogBusy(ILogger logger, int max);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rating of {MediaId} abandoned: the client went away (download finished: {DownloadDone})")]
    private static partial void LogClientGone(ILogger logger, string mediaId, bool downloadDone);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rating of {MediaId} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string mediaId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Speex voice ended with a partial frame of {Bytes} bytes; dropped")]
    private static partial void LogPartialFrame(ILogger logger, int bytes);
}
