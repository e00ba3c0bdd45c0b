using Camera;

namespace Appliance.Capture;

/// <summary>
/// Fresh stills for /snapshot, WeCom photos and alerts: the hub's newest frame when it is at most one frame
/// interval old, otherwise the next one (registering as a viewer wakes an idle capture loop at once).
/// </summary>
public sealed class SnapshotService(FrameHub hub, CameraOptions options, TimeProvider time)
{
    /// <summary>How long to wait for a frame before saying the camera is unavailable.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>A frame no older than one interval, with a reference the caller must release; null if none came in time.</summary>
    public async Task<Frame?> GetFreshAsync(CancellationToken cancellationToken)
    {
        var maxAge = TimeSpan.FromSeconds(1.0 / options.Fps);
        var latest = hub.AcquireLatest();
        if (latest is not null && time.GetUtcNow() - latest.CapturedAt <= maxAge)
        {
            return latest;
        }

        var after = latest?.Sequence ?? 0;
        latest?.Release();
        using var viewer = hub.RegisterViewer();
        using var timeout = new CancellationTokenSource(Timeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await hub.NextAsync(after, either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
