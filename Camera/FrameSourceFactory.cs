namespace Camera;

/// <summary>
/// Makes a <see cref="FrameSource"/> by its <c>Camera:Source</c> name. The built-in ones are synthetic, file and
/// rpicam; the hardware feature registers v4l2. <see cref="AutoPriority"/> orders the candidates of <c>auto</c>
/// (lower first); null keeps a source out of <c>auto</c>.
/// </summary>
public sealed record FrameSourceFactory(string Name, int? AutoPriority, Func<CameraOptions, FrameSource> Create);
