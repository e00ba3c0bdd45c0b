using Camera.Sources;
using Microsoft.Extensions.Logging;

namespace Camera;

/// <summary>The sources that need nothing but this library: synthetic, file and rpicam.</summary>
public static class BuiltInSources
{
    public static IEnumerable<FrameSourceFactory> Create(ILoggerFactory loggers, TimeProvider time)
    {
        yield return new FrameSourceFactory("rpicam", 20, o => new RpicamSource(o, loggers.CreateLogger<RpicamSource>(), time));
        yield return new FrameSourceFactory("synthetic", 100, o => new SyntheticSource(o, time));
        yield return new FrameSourceFactory("file", null, o => new FileSource(o, time));
    }
}
