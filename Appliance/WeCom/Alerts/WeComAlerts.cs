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
            _ = SendPhotoLaterAsync(photoLater, Recipients);
        }

        await Task.WhenAll(sends);
    }

    private Task<WeComResult<UploadedMedia>> UploadAsync(ReadOnlyMemory<byte> jpeg, CancellationToken cancellationToken) =>
        _services.GetRequiredService<WeComApiClient>().UploadMediaAsync(MediaType.Image, "alert.jpg", "image/jpeg", jpeg, cancellationToken);

    private static bool IsPassing(WeComError error) => error.Kind is WeComErrorKind.Busy or WeComErrorKind.Transport;

    /// <summary>Uploads the photo again after each of <see cref="WeComMessenger.ResendDelays"/> until it works, then sends it.</summary>
    private async Task SendPhotoLaterAsync(byte[] jpeg, IReadOnlyList<string> recipients)
    {
        WeComError? error = null;
        try
        {
            foreach (var delay in WeComMessenger.ResendDelays)
            {
                await Task.Delay(delay, _time, _stopping.Token);
                var upload = await UploadAsync(jpeg, _stopping.Token);
                if (upload.IsSuccess)
                {
                    await Task.WhenAll(recipients.Select(user => _perMember!.SubmitAsync(user, new ImageMessage(upload.Value!.MediaId))));
                    return;
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

        LogPhotoLost(_logger, recipients.Count, error?.ToString() ?? "?");
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
