using Camera.Jpeg;

namespace Camera.Sources;

/// <summary>
/// Replays an MJPEG file (concatenated JPEGs) or a directory of .jpg files in a loop; the capture loop paces it at
/// <c>Camera:Fps</c>. Invalid images are skipped and counted; a file with no valid image at all is an error.
/// </summary>
public sealed class FileSource : FrameSource
{
    private readonly CameraOptions _options;
    private readonly TimeProvider _time;
    private MjpegSplitter? _splitter;
    private FileStream? _stream;
    private string[] _files = [];
    private int _nextFile;
    private byte[] _fileBuffer = [];

    public FileSource(CameraOptions options, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
    }

    public override string Name => "file";

    public override bool IsSelfPaced => false;

    public override string Description => $"file {_options.File} {Width}x{Height}";

    /// <summary>Images skipped because they were not valid JPEGs.</summary>
    public long InvalidFrames { get; private set; }

    public override void Open(CancellationToken cancellationToken)
    {
        Close();
        var path = _options.File;
        try
        {
            if (Directory.Exists(path))
            {
                _files = [.. Directory.EnumerateFiles(path)
                    .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal)];
                if (_files.Length == 0)
                {
                    throw new FrameSourceException($"Camera:File '{path}' is a directory without .jpg files.");
                }
            }
            else if (File.Exists(path))
            {
                _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                _splitter = new MjpegSplitter(_stream);
            }
            else
            {
                throw new FrameSourceException($"Camera:File '{path}' does not exist.");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Exists() is true for a file or directory the service may not read (mode 0600, another owner).
            throw new FrameSourceException($"Camera:File '{path}' cannot be read: {ex.Message}", ex);
        }

        // Read the first frame now so a file without any valid image fails at open, with the reason.
        var first = ReadFrame(TimeSpan.Zero, cancellationToken) ?? throw new FrameSourceException($"Camera:File '{path}' holds no valid JPEG.");
        Width = first.Width;
        Height = first.Height;
        first.Release();
    }

    public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // One pass over the whole input without a valid frame means there is none.
        var wrapped = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            ReadOnlySpan<byte> jpeg;
            if (_splitter is not null)
            {
                if (!_splitter.TryReadFrame(out var memory))
                {
                    if (wrapped)
                    {
                        return null;
                    }

                    wrapped = true;
                    _splitter.Rewind();
                    continue;
                }

                jpeg = memory.Span;
            }
            else
            {
                if (_nextFile == _files.Length)
                {
                    if (wrapped)
                    {
                        return null;
                    }

                    wrapped = true;
                    _nextFile = 0;
                }

                jpeg = ReadWholeFile(_files[_nextFile++]);
            }

            var frame = JpegMarkers.ToFrame(jpeg, _time.GetUtcNow(), out _);
            if (frame is not null)
            {
                return frame;
            }

            InvalidFrames++;
        }

        return null;
    }

    private ReadOnlySpan<byte> ReadWholeFile(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            var length = (int)Math.Min(file.Length, 64L * 1024 * 1024);
            if (_fileBuffer.Length < length)
            {
                _fileBuffer = new byte[length];
            }

            file.ReadExactly(_fileBuffer, 0, length);
            return _fileBuffer.AsSpan(0, length);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Counted as an invalid image, like a file that is not a JPEG.
            return [];
        }
    }

    public override void Close()
    {
        _splitter?.Dispose();
        _splitter = null;
        _stream?.Dispose();
        _stream = null;
        _files = [];
        _nextFile = 0;
    }
}
