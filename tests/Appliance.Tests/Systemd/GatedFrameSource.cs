using Camera;
using Camera.Jpeg;

namespace Appliance.Tests.Systemd;

/// <summary>
/// A camera the test controls: it withholds frames (reads time out, as a camera still warming up), delivers them,
/// or hangs inside the read like a wedged driver call, ignoring its timeout.
/// </summary>
internal sealed class GatedFrameSource : FrameSource
{
    private readonly byte[] _jpeg;
    private readonly ManualResetEventSlim _flowing = new(false);
    private readonly ManualResetEventSlim _unhung = new(true);

    public GatedFrameSource()
    {
        using var encoder = new JpegEncoder(80);
        using var frame = new FrameLease(encoder.EncodeRgb(new byte[32 * 16 * 3], 32, 16, DateTimeOffset.UtcNow));
        _jpeg = frame.Frame.Jpeg.ToArray();
    }

    /// <summary>Registered under a name CameraOptions accepts; nothing built in answers to it.</summary>
    public override string Name => "v4l2";

    public override bool IsSelfPaced => false;

    public void Flow() => _flowing.Set();

    public void Withhold() => _flowing.Reset();

    public void Hang() => _unhung.Reset();

    public void Unhang() => _unhung.Set();

    public override void Open(CancellationToken cancellationToken)
    {
        Width = 32;
        Height = 16;
    }

    public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // A hung driver call does not honour the timeout; only the test (or disposal) lets it go.
        _unhung.Wait(cancellationToken);
        return _flowing.Wait(timeout, cancellationToken) ? Frame.Create(_jpeg, Width, Height, DateTimeOffset.UtcNow) : null;
    }

    private readonly struct FrameLease(Frame frame) : IDisposable
    {
        public Frame Frame { get; } = frame;

        public void Dispose() => Frame.Release();
    }
}
