using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace Relay.Streaming;

/// <summary>
/// Reads the appliance's MJPEG stream (<c>multipart/x-mixed-replace</c>) part by part: the boundary line, headers with
/// Content-Length (and X-Timestamp), then exactly that many bytes of JPEG, handed over while the pipe still holds them
/// (no copy here). A stream without a boundary, a header line over 8 KiB or a part without Content-Length is refused
/// with <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class MjpegPartReader
{
    private const int MaxPartBytes = 16 * 1024 * 1024;
    private const int MaxHeaderLineBytes = 8192;

    private readonly byte[] _delimiter;
    private readonly Action<ReadOnlySequence<byte>, string?> _onPart;
    private Expecting _expecting = Expecting.Boundary;
    private int? _contentLength;
    private string? _timestamp;

    private MjpegPartReader(string boundary, Action<ReadOnlySequence<byte>, string?> onPart)
    {
        _delimiter = Encoding.ASCII.GetBytes("--" + boundary);
        _onPart = onPart;
    }

    private enum Expecting
    {
        Boundary,
        Header,
        Body,
    }

    /// <summary>Reads parts until the stream ends, calling <paramref name="onPart"/> with each JPEG and its X-Timestamp.</summary>
    public static async Task ReadAsync(
        PipeReader reader, string boundary, Action<ReadOnlySequence<byte>, string?> onPart, CancellationToken cancellationToken)
    {
        var parts = new MjpegPartReader(boundary, onPart);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                while (parts.TryReadNext(ref buffer))
                {
                }

                reader.AdvanceTo(buffer.Start, result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>The boundary a <c>multipart/x-mixed-replace</c> content type names, or null.</summary>
    internal static string? BoundaryOf(string? contentType)
    {
        if (contentType is null)
        {
            return null;
        }

        var at = contentType.IndexOf("boundary=", StringComparison.OrdinalIgnoreCase);
        return at < 0 ? null : contentType[(at + "boundary=".Length)..].Split(';')[0].Trim().Trim('"');
    }

    /// <summary>Reads what comes next (a boundary, a header line or a body) off <paramref name="buffer"/>; false when it needs more bytes.</summary>
    private bool TryReadNext(ref ReadOnlySequence<byte> buffer) => _expecting switch
    {
        Expecting.Boundary => TryReadBoundary(ref buffer),
        Expecting.Header => TryReadHeaderLine(ref buffer),
        _ => TryReadBody(ref buffer),
    };

    private bool TryReadBoundary(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> _, _delimiter) || !reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n"u8))
        {
            if (buffer.Length > MaxPartBytes)
            {
                throw new InvalidDataException("No MJPEG boundary in the upstream stream.");
            }

            return false;
        }

        buffer = buffer.Slice(reader.Position);
        _expecting = Expecting.Header;
        _contentLength = null;
        _timestamp = null;
        return true;
    }

    private bool TryReadHeaderLine(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            if (buffer.Length > MaxHeaderLineBytes)
            {
                throw new InvalidDataException("An MJPEG part header is too long.");
            }

            return false;
        }

        buffer = buffer.Slice(reader.Position);
        if (line.Length > 0)
        {
            ReadHeader(Encoding.ASCII.GetString(line));
        }
        else if (_contentLength is null)
        {
            throw new InvalidDataException("An MJPEG part has no Content-Length.");
        }
        else
        {
            _expecting = Expecting.Body;
        }

        return true;
    }

    /// <summary>Keeps the headers the relay uses: a sane Content-Length and a short X-Timestamp; ignores the rest.</summary>
    private void ReadHeader(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return;
        }

        var name = text[..colon].Trim();
        var value = text[(colon + 1)..].Trim();
        if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length is > 0 and <= MaxPartBytes)
        {
            _contentLength = length;
        }
        else if (name.Equals("X-Timestamp", StringComparison.OrdinalIgnoreCase) && value.Length <= 32)
        {
            _timestamp = value;
        }
    }

    private bool TryReadBody(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < _contentLength!.Value)
        {
            return false;
        }

        _onPart(buffer.Slice(0, _contentLength.Value), _timestamp);
        buffer = buffer.Slice(_contentLength.Value);
        _expecting = Expecting.Boundary;
        return true;
    }
}
