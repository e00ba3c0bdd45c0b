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
    private readonly MemberRateLimiter? _perMember;
    private readonly Dictionary<string, string> _newestPhoto = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public WeComAlerts(WeComOptions options, IServiceProvider services, TimeProvider time, ILogger<WeComAlerts> logger)
    {
        _options = options;
        _services = services;
        _logger = logger;
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
        if (snapshot is not null)
        {
            var upload = await _services.GetRequiredService<WeComApiClient>().UploadMediaAsync(MediaType.Image, "alert.jpg", "image/jpeg", snapshot.Jpeg, cancellationToken);
            if (upload.IsSuccess)
            {
                mediaId = upload.Value!.MediaId;
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
        await Task.WhenAll(sends);
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

    public void Dispose() => _perMember?.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert not sent (WeCom is not configured): {Text}")]
    private static partial void LogNotConfigured(ILogger logger, string text);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert to {Count} member(s), photo: {WithPhoto}")]
    private static partial void LogAlert(ILogger logger, int count, bool withPhoto);
}
