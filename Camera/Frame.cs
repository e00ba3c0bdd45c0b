using System.Buffers;

namespace Camera;

/// <summary>
/// One encoded JPEG frame in a pooled buffer. It is encoded once and shared by every consumer; the reference
/// count returns the buffer to the pool when the last reader releases it, so no consumer ever copies it.
/// </summary>
public sealed class Frame
{
    private byte[]? _buffer;
    private readonly int _length;
    private int _references = 1;

    private Frame(byte[] buffer, int length, int width, int height, DateTimeOffset capturedAt)
    {
        _buffer = buffer;
        _length = length;
        Width = width;
        Height = height;
        CapturedAt = capturedAt;
    }

    /// <summary>Sequence number assigned by the hub on publish (1, 2, 3 …); 0 before publishing.</summary>
    public long Sequence { get; internal set; }

    public int Width { get; }

    public int Height { get; }

    public DateTimeOffset CapturedAt { get; }

    public int Length => _length;

    /// <summary>The JPEG bytes. Valid only while the caller holds a reference.</summary>
    public ReadOnlyMemory<byte> Jpeg => new(_buffer ?? throw new ObjectDisposedException(nameof(Frame)), 0, _length);

    /// <summary>Copies <paramref name="jpeg"/> into a pooled buffer. The new frame holds one reference.</summary>
    public static Frame Create(ReadOnlySpan<byte> jpeg, int width, int height, DateTimeOffset capturedAt)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(jpeg.Length);
        jpeg.CopyTo(buffer);
        return new Frame(buffer, jpeg.Length, width, height, capturedAt);
    }

    /// <summary>Takes ownership of a buffer rented from <see cref="ArrayPool{T}.Shared"/>.</summary>
    public static Frame FromPooledBuffer(byte[] buffer, int length, int width, int height, DateTimeOffset capturedAt)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, buffer.Length);
        return new Frame(buffer, length, width, height, capturedAt);
    }

    /// <summary>Adds a reference; the caller must <see cref="Release"/> it.</summary>
    public void AddReference()
    {
        if (Interlocked.Increment(ref _references) <= 1)
        {
            throw new InvalidOperationException("The frame was already returned to the pool.");
        }
    }

    /// <summary>Drops a reference; the last one returns the buffer to the pool.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            var buffer = Interlocked.Exchange(ref _buffer, null);
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("The frame was released more often than referenced.");
        }
    }

    internal int ReferenceCount => Volatile.Read(ref _references);
}
