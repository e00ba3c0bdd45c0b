namespace Camera;

/// <summary>What the capture service is doing, for /api/status, /healthz and the doctor.</summary>
public sealed record CaptureStatus(
    CaptureState State,
    string? Source,
    string? Description,
    int Width,
    int Height,
    int ConfiguredFps,
    double DeliveredFps,
    string? Problem,
    IReadOnlyList<SkippedSource> Skipped);

/// <summary>A candidate of <c>auto</c> that was passed over, and why.</summary>
public sealed record SkippedSource(string Name, string Reason);

public enum CaptureState
{
    Starting,
    Live,
    Idle,
    Unavailable,
    Stopped,
}
