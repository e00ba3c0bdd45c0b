using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Appliance.WeCom.Api;

/// <summary>A bearer token and when it stops working.</summary>
public sealed record AccessToken(string Value, DateTimeOffset ExpiresAt);

/// <summary>A fetch failed; <see cref="Transient"/> ones (busy, network) are retried with backoff.</summary>
public sealed class AccessTokenException : Exception
{
    public AccessTokenException(string message, int errCode, bool transient)
        : base(message)
    {
        ErrCode = errCode;
        Transient = transient;
    }

    public AccessTokenException()
    {
    }

    public AccessTokenException(string message)
        : base(message)
    {
    }

    public AccessTokenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int ErrCode { get; }

    public bool Transient { get; }
}

/// <summary>
/// Where tokens come from: WeCom's gettoken, WeChat's stable_token for the scoring proxy. The cache around it
/// does the single flight, refresh-ahead, persistence and retries.
/// </summary>
public abstract class AccessTokenSource
{
    /// <summary>File name in the state directory, e.g. "wecom-token.json"; empty disables persistence.</summary>
    public abstract string CacheFileName { get; }

    /// <summary>Identifies the app (id and secret) so a token cached for another app or secret is ignored.</summary>
    public abstract string Identity { get; }

    /// <summary>Fetches a new token. Throw <see cref="AccessTokenException"/>; never put the secret in its message.</summary>
    public abstract Task<AccessToken> FetchAsync(CancellationToken cancellationToken);
}

/// <summary>
/// One token per app: concurrent callers share one fetch, the token is refreshed ahead of expiry in the background,
/// persisted (mode 0600) across restarts, and invalidated only if it is still the current one (so a burst of
/// 40014 answers triggers one refetch, not one each). Tokens and secrets are never logged.
/// </summary>
public sealed partial class AccessTokenCache
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];

    private readonly AccessTokenSource _source;
    private readonly string? _cachePath;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _refreshAhead;
    private readonly Lock _lock = new();
    private AccessToken? _current;
    private Task<AccessToken>? _inflight;
    private bool _loaded;
    private long _fetches;

    public AccessTokenCache(AccessTokenSource source, StateDirectory? state, TimeProvider time, ILogger logger, TimeSpan? refreshAhead = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _cachePath = state is not null && source.CacheFileName.Length > 0 ? state.File(source.CacheFileName) : null;
        _time = time;
        _logger = logger;
        _refreshAhead = refreshAhead ?? TimeSpan.FromMinutes(5);
    }

    /// <summary>Completed fetches (successful or not) since start, for status and tests.</summary>
    public long Fetches => Interlocked.Read(ref _fetches);

    public DateTimeOffset? ExpiresAt
    {
        get
        {
            lock (_lock)
            {
                return _current?.ExpiresAt;
            }
        }
    }

    /// <summary>A valid token: the cached one, or the result of the one fetch in flight.</summary>
    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        Task<AccessToken> fetch;
        lock (_lock)
        {
            if (!_loaded)
            {
                _loaded = true;
                _current = LoadCached();
            }

            var now = _time.GetUtcNow();
            if (_current is { } current && current.ExpiresAt > now)
            {
                if (current.ExpiresAt - now <= _refreshAhead && _inflight is null)
                {
                    // Refresh ahead: callers keep using the still-valid token meanwhile.
                    _ = StartFetchLocked();
                }

                return current.Value;
            }

            fetch = _inflight ?? StartFetchLocked();
        }

        var token = await fetch.WaitAsync(cancellationToken);
        return token.Value;
    }

    /// <summary>WeCom rejected <paramref name="token"/> (40001/40014/42001): forget it unless a newer one already replaced it.</summary>
    public void Invalidate(string token)
    {
        lock (_lock)
        {
            if (_current is { } current && current.Value == token)
            {
                _current = null;
                LogInvalidated(_logger, _source.GetType().Name);
            }
        }
    }

    private Task<AccessToken> StartFetchLocked()
    {
        // Not tied to any caller's cancellation: others wait on the same fetch.
        var task = Task.Run(FetchWithRetriesAsync, CancellationToken.None);
        _inflight = task;
        return task;
    }

    private async Task<AccessToken> FetchWithRetriesAsync()
    {
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    var token = await _source.FetchAsync(CancellationToken.None);
                    Interlocked.Increment(ref _fetches);
                    lock (_lock)
                    {
                        _current = token;
                    }

                    var lifetime = (long)(token.ExpiresAt - _time.GetUtcNow()).TotalSeconds;
                    LogFetched(_logger, _source.GetType().Name, lifetime);
                    Save(token);
                    return token;
                }
                catch (AccessTokenException ex) when (ex.Transient && attempt < Backoff.Length)
                {
                    Interlocked.Increment(ref _fetches);
                    LogRetrying(_logger, _source.GetType().Name, ex.ErrCode, ex.Message, Backoff[attempt].TotalMilliseconds);
                    await Task.Delay(Backoff[attempt], _time);
                }
                catch (AccessTokenException ex)
                {
                    Interlocked.Increment(ref _fetches);
                    LogFailed(_logger, _source.GetType().Name, ex.ErrCode, ex.Message);
                    throw;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _inflight = null;
            }
        }
    }

    private string IdentityHash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_source.Identity)));

    private AccessToken? LoadCached()
    {
        if (_cachePath is null || !File.Exists(_cachePath))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(_cachePath));
            var root = document.RootElement;
            if (root.GetProperty("identity").GetString() != IdentityHash())
            {
                return null;
            }

            var token = new AccessToken(
                root.GetProperty("token").GetString() ?? "",
                DateTimeOffset.FromUnixTimeSeconds(root.GetProperty("expiresAt").GetInt64()));
            return token.Value.Length > 0 && token.ExpiresAt > _time.GetUtcNow() ? token : null;
        }
        catch (Exception ex) when (ex is JsonException or IOException or KeyNotFoundException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogCacheUnreadable(_logger, _cachePath, ex.Message);
            return null;
        }
    }

    private void Save(AccessToken token)
    {
        if (_cachePath is null)
        {
            return;
        }

        try
        {
            AtomicFile.Write(_cachePath, AtomicFile.OwnerOnly, stream =>
            {
                using var writer = new Utf8JsonWriter(stream);
                writer.WriteStartObject();
                writer.WriteString("identity", IdentityHash());
                writer.WriteString("token", token.Value);
                writer.WriteNumber("expiresAt", token.ExpiresAt.ToUnixTimeSeconds());
                writer.WriteEndObject();
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCacheUnwritable(_logger, _cachePath, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source}: fetched a new access token, valid for {Seconds} s")]
    private static partial void LogFetched(ILogger logger, string source, long seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source}: the access token was rejected; fetching a new one")]
    private static partial void LogInvalidated(ILogger logger, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Source}: token fetch failed transiently ({ErrCode}: {Reason}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, string source, int errCode, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Source}: token fetch failed ({ErrCode}: {Reason})")]
    private static partial void LogFailed(ILogger logger, string source, int errCode, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Token cache {Path} is unreadable ({Reason}); fetching a new token")]
    private static partial void LogCacheUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Token cache {Path} cannot be written ({Reason})")]
    private static partial void LogCacheUnwritable(ILogger logger, string path, string reason);
}
