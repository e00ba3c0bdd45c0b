using Appliance.WeCom.Api;
using Camera;

namespace Appliance.WeCom.Alerts;

/// <summary>Pushes a notice (and optionally a photo) to the family; other features call it (PIR, doorbell, sensors).</summary>
public interface IAlertNotifier
{
    /// <summary>
    /// Sends <paramref name="text"/> (and <paramref name="snapshot"/>, which stays the caller's to release) to every
    /// allowed member, at most one alert per member per WeCom:AlertInterval; alerts in between are merged.
    /// </summary>
    Task NotifyAsync(string text, Frame? snapshot = null, CancellationToken cancellationToken = default);
}

/// <summary>The WeCom implementation; a no-op (logged) while WeCom is not configured.</summary>
internal sealed partial class WeComAlerts : IAlertNotifier, IDisposable
{
    private readonly WeComOptions _options;
    private readonly IServiceProvider _services;
    private readonly ILogger<WeComAlerts> _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly MemberRateLimiter? _perMember;
    private readonly Dictionary<string, string> _newestPhoto = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private byte[]? _photoLater;
    private bool _photoRetrying;

    public WeComAlerts(WeComOptions options, IServiceProvider services, TimeProvider time, ILogger<WeComAlerts> logger)
    {
        _options = options;
        _services = services;
        _logger = logger;
        _time = time;
        if (options.IsConfigured)
        {
            // One alert per member per interval: the (merged) text, then the newest photo taken since the last one.
            _perMember = new MemberRateLimiter(1, options.AlertInterval > TimeSpan.Zero ? options.AlertInterval : TimeSpan.FromTicks(1), time, DeliverAsync, logger);
        }
    }

    /// <summary>The members an alert goes to: the allow-list and the admins, each once (WeCom's UserIDs ignore case).</summary>
    public IReadOnlyList<string> Recipients => [.. _options.AllowedUsers.Concat(_options.Admins).Distinct(StringComparer.OrdinalIgnoreCase)];

    public async Task NotifyAsync(string text, Frame? snapshot = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        if (!_options.IsConfigured)
        {
            LogNotConfigured(_logger, text);
            return;
        }

        string? mediaId = null;
        byte[]? photoLater = null;
        if (snapshot is not null)
        {
            var upload = await UploadAsync(snapshot.Jpeg, cancellationToken);
            if (upload.IsSuccess)
            {
                mediaId = upload.Value!.MediaId;
            }
            else if (IsPassing(upload.Error!))
            {
                // WeCom busy or out of reach (the relay down): the photo is tried again later, as a refused send is.
                photoLater = snapshot.Jpeg.ToArray();
                text += "\n(照片稍后发送 photo follows)";
            }
            else
            {
                text += $"\n(照片发送失败 photo not sent: {upload.Error})";
            }
        }

        var sends = new List<Task>();
        foreach (var user in Recipients)
        {
            if (mediaId is not null)
            {
                lock (_lock)
                {
                    _newestPhoto[user] = mediaId;
                }
            }

            sends.Add(_perMember!.SubmitAsync(user, new TextMessage(text)));
        }

        LogAlert(_logger, Recipients.Count, mediaId is not null);
        if (photoLater is not null)
        {
            KeepPhotoForLater(photoLater);
        }

        await Task.WhenAll(sends);
    }

    private Task<WeComResult<UploadedMedia>> UploadAsync(ReadOnlyMemory<byte> jpeg, CancellationToken cancellationToken) =>
        _services.GetRequiredService<WeComApiClient>().UploadMediaAsync(MediaType.Image, "alert.jpg", "image/jpeg", jpeg, cancellationToken);

    private static bool IsPassing(WeComError error) => error.Kind is WeComErrorKind.Busy or WeComErrorKind.Transport;

    /// <summary>
    /// Keeps <paramref name="jpeg"/> for <see cref="SendPhotoLaterAsync"/>, replacing an older photo still waiting: during a
    /// long outage a busy PIR would otherwise hold a frame (and a retry loop) per alert on a 512 MB Pi. The newest photo
    /// is the one the family wants, as within an alert interval.
    /// </summary>
    private void KeepPhotoForLater(byte[] jpeg)
    {
        lock (_lock)
        {
            _photoLater = jpeg;
            if (_photoRetrying)
            {
                return;
            }

            _photoRetrying = true;
        }

        _ = SendPhotoLaterAsync();
    }

    /// <summary>
    /// Uploads the waiting photo again after each of <see cref="WeComMessenger.ResendDelays"/> until it works, then sends
    /// it; a newer photo kept meanwhile is sent the same way, its attempts continuing the schedule.
    /// </summary>
    private async Task SendPhotoLaterAsync()
    {
        WeComError? error = null;
        byte[]? jpeg = null;
        try
        {
            foreach (var delay in WeComMessenger.ResendDelays)
            {
                await Task.Delay(delay, _time, _stopping.Token);
                lock (_lock)
                {
                    jpeg = _photoLater!;
                }

                var upload = await UploadAsync(jpeg, _stopping.Token);
                if (upload.IsSuccess)
                {
                    await Task.WhenAll(Recipients.Select(user => _perMember!.SubmitAsync(user, new ImageMessage(upload.Value!.MediaId))));
                    lock (_lock)
                    {
                        if (ReferenceEquals(_photoLater, jpeg))
                        {
                            _photoLater = null;
                            _photoRetrying = false;
                            return;
                        }
                    }

                    error = null; // this one went out; a newer photo was kept meanwhile
                    continue;
                }

                error = upload.Error!;
                if (!IsPassing(error))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return; // shutting down
        }

        bool newer;
        lock (_lock)
        {
            newer = !ReferenceEquals(_photoLater, jpeg);
            if (!newer)
            {
                _photoLater = null;
                _photoRetrying = false;
            }
        }

        if (error is not null)
        {
            LogPhotoLost(_logger, Recipients.Count, error.ToString());
        }

        if (newer)
        {
            _ = SendPhotoLaterAsync(); // kept after the last attempt: it gets its own schedule
        }
    }

    private async Task DeliverAsync(string user, WeComMessage text)
    {
        var messenger = _services.GetRequiredService<WeComMessenger>();
        string? photo;
        lock (_lock)
        {
            _newestPhoto.Remove(user, out photo);
        }

        await messenger.SendAsync(user, text);
        if (photo is not null)
        {
            await messenger.SendAsync(user, new ImageMessage(photo));
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _perMember?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert not sent (WeCom is not configured): {Text}")]
    private static partial void LogNotConfigured(ILogger logger, string text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert photo for {Count} member(s) not sent: its upload failed on every attempt (last: {Error})")]
    private static partial void LogPhotoLost(ILogger logger, int count, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert to {Count} member(s), photo: {WithPhoto}")]
    private static partial void LogAlert(ILogger logger, int count, bool withPhoto);
}
