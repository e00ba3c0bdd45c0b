using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Appliance.WeCom.Api;

/// <summary>
/// WeCom's server APIs the appliance uses: media/upload, media/get and message/send. Every call gets a token from
/// the shared cache, refetches it once when WeCom rejects it, retries "busy" with backoff, and reports failures as
/// a typed <see cref="WeComResult{T}"/>.
/// </summary>
public sealed partial class WeComApiClient
{
    public const int Busy = -1;
    public const int InvalidCredential = 40001;
    public const int InvalidAccessToken = 40014;
    public const int AccessTokenExpired = 42001;
    public const int IpNotAllowed = 60020;
    public const int AllUsersInvalid = 81013;

    private static readonly TimeSpan[] BusyBackoff = [TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(2)];

    private readonly WeComOptions _options;
    private readonly WeComHttp _http;
    private readonly AccessTokenCache _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger<WeComApiClient> _logger;

    public WeComApiClient(WeComOptions options, WeComHttp http, AccessTokenCache tokens, TimeProvider time, ILogger<WeComApiClient> logger)
    {
        _options = options;
        _http = http;
        _tokens = tokens;
        _time = time;
        _logger = logger;
    }

    /// <summary>Size limits per type from WeCom's docs (all types must be more than 5 bytes).</summary>
    public static long MaxBytes(MediaType type) => type switch
    {
        MediaType.Image => 10L * 1024 * 1024,
        MediaType.Voice => 2L * 1024 * 1024,
        MediaType.Video => 10L * 1024 * 1024,
        _ => 20L * 1024 * 1024,
    };

    /// <summary>Uploads temporary media (valid 3 days) as the documented multipart form with the single field "media".</summary>
    public Task<WeComResult<UploadedMedia>> UploadMediaAsync(MediaType type, string fileName, string contentType, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        if (content.Length <= 5 || content.Length > MaxBytes(type))
        {
            return Task.FromResult(WeComResult<UploadedMedia>.Fail(WeComErrorKind.MediaSize, 0,
                $"{type} of {content.Length} bytes is outside WeCom's limits (6..{MaxBytes(type)} bytes)"));
        }

        var typeName = type.ToString().ToLowerInvariant();
        return CallAsync(
            "media/upload",
            token => new HttpRequestMessage(HttpMethod.Post, _http.Uri($"cgi-bin/media/upload?access_token={Uri.EscapeDataString(token)}&type={typeName}"))
            {
                Content = new MediaUploadContent(fileName, contentType, content),
            },
            static root => new UploadedMedia(
                root.TryGetProperty("media_id", out var id) ? id.GetString() ?? "" : "",
                root.TryGetProperty("created_at", out var at) ? ParseLong(at) : 0),
            cancellationToken);
    }

    /// <summary>Downloads media into <paramref name="destination"/>, refusing more than WeCom:MaxDownloadBytes.</summary>
    public Task<WeComResult<DownloadedMedia>> GetMediaAsync(string mediaId, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(mediaId);
        ArgumentNullException.ThrowIfNull(destination);
        return WithTokenAsync("media/get", token => DownloadAsync(token, mediaId, destination, cancellationToken), cancellationToken);
    }

    private async Task<Attempt<DownloadedMedia>> DownloadAsync(string token, string mediaId, Stream destination, CancellationToken cancellationToken)
    {
        var uri = _http.Uri($"cgi-bin/media/get?access_token={Uri.EscapeDataString(token)}&media_id={Uri.EscapeDataString(mediaId)}");
        try
        {
            using var response = await _http.Client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var contentType = response.Content.Headers.ContentType?.MediaType ?? "application/octet-stream";
            if (contentType is "application/json" or "text/plain" || response.StatusCode != HttpStatusCode.OK)
            {
                // Errors come back as JSON with status 200.
                var body = await ReadCappedAsync(response, 64 * 1024, cancellationToken);
                var error = ParseError(body, out var code);
                if (code == 0 && response.StatusCode == HttpStatusCode.OK && error is null)
                {
                    return WeComResult<DownloadedMedia>.Fail(WeComErrorKind.Other, 0, "media/get answered JSON without an error");
                }

                return new Attempt<DownloadedMedia>(null, code, error ?? $"HTTP {(int)response.StatusCode}");
            }

            if (response.Content.Headers.ContentLength is { } announced && announced > _options.MaxDownloadBytes)
            {
                return WeComResult<DownloadedMedia>.Fail(WeComErrorKind.MediaSize, 0, $"media of {announced} bytes exceeds WeCom:MaxDownloadBytes ({_options.MaxDownloadBytes})");
            }

            await using var source = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = ArrayPool<byte>.Shared.Rent(81920);
            long total = 0;
            try
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > _options.MaxDownloadBytes)
                    {
                        return WeComResult<DownloadedMedia>.Fail(WeComErrorKind.MediaSize, 0, $"media exceeds WeCom:MaxDownloadBytes ({_options.MaxDownloadBytes}); download stopped");
                    }

                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            var fileName = response.Content.Headers.ContentDisposition?.FileName?.Trim('"');
            return WeComResult<DownloadedMedia>.Ok(new DownloadedMedia(contentType, fileName, total));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return WeComResult<DownloadedMedia>.Fail(WeComErrorKind.Transport, 0, $"media/get: {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>Sends one app message to members ("a|b" or "@all").</summary>
    public Task<WeComResult<SendReceipt>> SendAsync(string toUser, WeComMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(toUser);
        ArgumentNullException.ThrowIfNull(message);
        var body = SendBody(toUser, message);
        return CallAsync(
            "message/send",
            token => new HttpRequestMessage(HttpMethod.Post, _http.Uri($"cgi-bin/message/send?access_token={Uri.EscapeDataString(token)}"))
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } },
            },
            static root => new SendReceipt(Str(root, "invaliduser"), Str(root, "invalidparty"), Str(root, "invalidtag")),
            cancellationToken);
    }

    internal byte[] SendBody(string toUser, WeComMessage message)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("touser", toUser);
            writer.WriteString("msgtype", message.MsgType);
            writer.WriteNumber("agentid", _options.AgentId);
            message.WriteSendBody(writer);
            writer.WriteNumber("safe", 0);
            writer.WriteNumber("enable_duplicate_check", 0);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private Task<WeComResult<T>> CallAsync<T>(string api, Func<string, HttpRequestMessage> request, Func<JsonElement, T> parse, CancellationToken cancellationToken) =>
        WithTokenAsync(api, token => CallOnceAsync(api, request(token), parse, cancellationToken), cancellationToken);

    /// <summary>
    /// The loop every call runs: an access token, one attempt with it, and another attempt when WeCom's error code is one
    /// a fresh token or a pause cures (see <see cref="Decide"/>).
    /// </summary>
    private async Task<WeComResult<T>> WithTokenAsync<T>(string api, Func<string, Task<Attempt<T>>> attemptAsync, CancellationToken cancellationToken)
    {
        var retriedToken = false;
        for (var attempt = 0; ; attempt++)
        {
            string token;
            try
            {
                token = await _tokens.GetAsync(cancellationToken);
            }
            catch (AccessTokenException ex)
            {
                return WeComResult<T>.Fail(TokenError(ex));
            }

            var outcome = await attemptAsync(token);
            if (outcome.Done is { } done)
            {
                return done;
            }

            if (Decide(outcome.Code, token, ref retriedToken, attempt) is { } delay)
            {
                LogRetry(_logger, api, outcome.Code, outcome.Message);
                await Task.Delay(delay, _time, cancellationToken);
                continue;
            }

            LogApiError(_logger, api, outcome.Code, outcome.Message);
            return WeComResult<T>.Fail(Classify(outcome.Code, outcome.Message));
        }
    }

    /// <summary>One JSON API call: its parsed answer, or WeCom's error code and message.</summary>
    private async Task<Attempt<T>> CallOnceAsync<T>(string api, HttpRequestMessage request, Func<JsonElement, T> parse, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            using var deadline = _http.Deadline(cancellationToken);
            using var message = request;
            using var response = await _http.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            body = await ReadCappedAsync(response, 1024 * 1024, deadline.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // A stalled or silent server: the deadline (WeCom:HttpTimeout) ends the call, whatever part it hung in.
            var reason = ex is OperationCanceledException ? $"no complete answer within {_http.Timeout.TotalSeconds:0.###} s (WeCom:HttpTimeout)" : $"{ex.GetType().Name}: {ex.Message}";
            LogTransport(_logger, api, ex.GetType().Name, ex is OperationCanceledException ? reason : ex.Message);
            return WeComResult<T>.Fail(WeComErrorKind.Transport, 0, $"{api}: {reason}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return WeComResult<T>.Fail(WeComErrorKind.Transport, 0, $"{api} answered something that is not JSON ({body.Length} bytes)");
        }

        using (document)
        {
            var root = document.RootElement;
            var code = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errcode", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
            if (code != 0)
            {
                return new Attempt<T>(null, code, Shorten(Str(root, "errmsg")));
            }

            var value = parse(root);
            if (value is SendReceipt { InvalidUser.Length: > 0 } receipt)
            {
                LogInvalidUsers(_logger, api, receipt.InvalidUser);
            }

            return WeComResult<T>.Ok(value);
        }
    }

    /// <summary>What one attempt came to: a result to return as it is (<see cref="Done"/>), or WeCom's error code and message.</summary>
    private readonly record struct Attempt<T>(WeComResult<T>? Done, int Code = 0, string Message = "")
    {
        public static implicit operator Attempt<T>(WeComResult<T> done) => new(done);
    }

    /// <summary>Null: give up. Otherwise retry after the delay (token invalidated where that is the cause).</summary>
    private TimeSpan? Decide(int code, string token, ref bool retriedToken, int attempt)
    {
        if (code is InvalidCredential or InvalidAccessToken or AccessTokenExpired)
        {
            if (retriedToken)
            {
                return null;
            }

            retriedToken = true;
            _tokens.Invalidate(token);
            return TimeSpan.Zero;
        }

        if (code == Busy && attempt < BusyBackoff.Length)
        {
            return BusyBackoff[attempt];
        }

        return null;
    }

    private static WeComError Classify(int code, string message) => new(
        code switch
        {
            InvalidCredential or InvalidAccessToken or AccessTokenExpired => WeComErrorKind.InvalidToken,
            Busy => WeComErrorKind.Busy,
            IpNotAllowed => WeComErrorKind.IpNotAllowed,
            AllUsersInvalid => WeComErrorKind.InvalidUser,
            40004 or 40005 or 40006 or 40009 or 40011 or 40058 => WeComErrorKind.MediaSize,
            _ => WeComErrorKind.Other,
        },
        code,
        code == IpNotAllowed ? message + " (this address is not a trusted IP of the app: route API calls through the relay)" : message);

    private static WeComError TokenError(AccessTokenException ex) => new(
        ex.ErrCode switch
        {
            Busy => WeComErrorKind.Busy,
            IpNotAllowed => WeComErrorKind.IpNotAllowed,
            0 when !ex.Transient => WeComErrorKind.Credentials,
            0 => WeComErrorKind.Transport,
            40001 or 40013 or 40091 => WeComErrorKind.Credentials,
            _ => WeComErrorKind.Other,
        },
        ex.ErrCode,
        ex.Message);

    private static string? ParseError(byte[] body, out int code)
    {
        code = 0;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errcode", out var c) && c.ValueKind == JsonValueKind.Number)
            {
                code = c.GetInt32();
                return Shorten(Str(root, "errmsg"));
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private static async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, int cap, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > cap)
        {
            throw new HttpRequestException($"answer of {response.Content.Headers.ContentLength} bytes is larger than {cap}");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var memory = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (memory.Length + read > cap)
            {
                throw new HttpRequestException($"answer is larger than {cap} bytes");
            }

            memory.Write(buffer, 0, read);
        }

        return memory.ToArray();
    }

    private static string Str(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";

    private static long ParseLong(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.GetInt64(),
        JsonValueKind.String when long.TryParse(element.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) => v,
        _ => 0,
    };

    /// <summary>WeCom's errmsg ends with a "hint"/"more info" URL; keep logs short.</summary>
    internal static string Shorten(string message)
    {
        var cut = message.IndexOf(", hint:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {Api} failed to connect ({Type}: {Reason})")]
    private static partial void LogTransport(ILogger logger, string api, string type, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom {Api} answered {ErrCode} ({ErrMsg}); retrying")]
    private static partial void LogRetry(ILogger logger, string api, int errCode, string errMsg);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {Api} answered {ErrCode} ({ErrMsg})")]
    private static partial void LogApiError(ILogger logger, string api, int errCode, string errMsg);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {Api}: not delivered to {Users} (not in the app's visible range?)")]
    private static partial void LogInvalidUsers(ILogger logger, string api, string users);
}

/// <summary>
/// The media/upload body exactly as WeCom documents it: an unquoted boundary, one part named "media" with
/// filename and filelength. (MultipartFormDataContent quotes the boundary and adds filename*, which WeCom's parser
/// has been reported to reject.)
/// </summary>
internal sealed class MediaUploadContent : HttpContent
{
    private readonly byte[] _head;
    private readonly ReadOnlyMemory<byte> _content;
    private readonly byte[] _tail;

    public MediaUploadContent(string fileName, string contentType, ReadOnlyMemory<byte> content)
    {
        var boundary = "----ApplianceBoundary" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var safeName = fileName.Replace("\"", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
        _head = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"--{boundary}\r\nContent-Disposition: form-data; name=\"media\";filename=\"{safeName}\"; filelength={content.Length}\r\nContent-Type: {contentType}\r\n\r\n"));
        _content = content;
        _tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
        var type = new MediaTypeHeaderValue("multipart/form-data");
        type.Parameters.Add(new NameValueHeaderValue("boundary", boundary));
        Headers.ContentType = type;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await stream.WriteAsync(_head);
        await stream.WriteAsync(_content);
        await stream.WriteAsync(_tail);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _head.Length + _content.Length + _tail.Length;
        return true;
    }
}
