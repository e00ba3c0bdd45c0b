using System.Text;

namespace Appliance.Tests.Infrastructure;

/// <summary>A strict reader of the appliance's multipart/x-mixed-replace stream (boundary "frame").</summary>
public sealed class MultipartReader(Stream stream)
{
    private readonly BufferedStream _stream = new(stream, 64 * 1024);
    private bool _started;

    public sealed record Part(Dictionary<string, string> Headers, byte[] Body, TimeSpan TrailerWait);

    public async Task<Part> ReadPartAsync(CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            var first = await ReadLineAsync(cancellationToken);
            if (first != "--frame")
            {
                throw new InvalidDataException($"expected the first boundary, got '{first}'");
            }

            _started = true;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var body = new byte[int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture)];
        await _stream.ReadExactlyAsync(body, cancellationToken);
        // "\r\n--frame\r\n" must already be there: the server sends it with the frame.
        var trailer = new byte[11];
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await _stream.ReadExactlyAsync(trailer, cancellationToken);
        var wait = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        if (Encoding.ASCII.GetString(trailer) != "\r\n--frame\r\n")
        {
            throw new InvalidDataException("a frame is not followed by the boundary");
        }

        return new Part(headers, body, wait);
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await _stream.ReadExactlyAsync(one, cancellationToken);
            if (one[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)one[0]);
        }
    }
}
