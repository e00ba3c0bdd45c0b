namespace Camera;

/// <summary>
/// A producer of JPEG frames. Implementations do blocking device I/O and are driven by <see cref="CaptureService"/>
/// on its dedicated thread; tests subclass it to script a device.
/// </summary>
public abstract class FrameSource : IDisposable
{
    /// <summary>The <c>Camera:Source</c> name of this source (synthetic, file, rpicam, v4l2).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// True when the device delivers frames at its own pace (a camera); false when the source makes a frame on demand
    /// (synthetic, file) and the capture loop paces it.
    /// </summary>
    public abstract bool IsSelfPaced { get; }

    /// <summary>Width and height of the frames, known after <see cref="Open"/>.</summary>
    public int Width { get; protected set; }

    public int Height { get; protected set; }

    /// <summary>A human description of what was opened (device, format, negotiated size and fps).</summary>
    public virtual string Description => $"{Name} {Width}x{Height}";

    /// <summary>Opens the device. Throws <see cref="FrameSourceException"/> with a reason a person can act on.</summary>
    public abstract void Open(CancellationToken cancellationToken);

    /// <summary>
    /// Blocks until the next frame and returns it holding one reference, or null when none came within
    /// <paramref name="timeout"/>. Throws <see cref="FrameSourceException"/> when the device is gone.
    /// </summary>
    public abstract Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Closes the device; <see cref="Open"/> may be called again afterwards.</summary>
    public virtual void Close()
    {
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }
    }
}

/// <summary>A source failed in a way a person can act on (device missing, tool not installed, device unplugged).</summary>
public sealed class FrameSourceException : Exception
{
    public FrameSourceException(string message)
        : base(message)
    {
    }

    public FrameSourceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public FrameSourceException()
    {
    }
}
