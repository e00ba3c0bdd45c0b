using System.Buffers;

namespace Camera.Jpeg;

/// <summary>
/// Splits a byte stream of concatenated JPEGs (rpicam-vid stdout, an .mjpeg file) into single images by walking the
/// marker structure, so an EXIF thumbnail's own FFD9 inside APP1 does not end the frame early. Garbage between
/// frames is skipped; a frame larger than <see cref="MaxFrameLength"/> is dropped and the stream resynchronised.
/// </summary>
public sealed class MjpegSplitter : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start;  // start of the frame being assembled (or of unscanned data)
    private int _end;    // end of valid data
    private int _scan;   // where scanning resumes
    private Phase _phase = Phase.SeekingStart;
    private bool _endOfStream;

    public MjpegSplitter(Stream stream, int maxFrameLength = 16 * 1024 * 1024)
    {
        _stream = stream ?? throw new ArgumentNullException(nameof(stream));
        MaxFrameLength = maxFrameLength;
        _buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
    }

    public int MaxFrameLength { get; }

    /// <summary>Bytes skipped because they were not part of any frame.</summary>
    public long SkippedBytes { get; private set; }

    /// <summary>Frames dropped for exceeding <see cref="MaxFrameLength"/>.</summary>
    public long OversizedFrames { get; private set; }

    private enum Phase
    {
        SeekingStart,
        Segments,
        Entropy,
    }

    /// <summary>
    /// Reads until one whole JPEG is available and returns it; the memory is valid until the next call.
    /// Returns false at the end of the stream (a trailing partial frame is discarded).
    /// </summary>
    public bool TryReadFrame(out ReadOnlyMemory<byte> jpeg)
    {
        while (true)
        {
            if (TryExtract(out jpeg))
            {
                return true;
            }

            if (_endOfStream || !Fill())
            {
                if (_end > _start)
                {
                    SkippedBytes += _end - _start;
                }

                _start = _end = _scan = 0;
                _phase = Phase.SeekingStart;
                jpeg = default;
                return false;
            }
        }
    }

    private bool TryExtract(out ReadOnlyMemory<byte> jpeg)
    {
        var data = _buffer;
        while (true)
        {
            switch (_phase)
            {
                case Phase.SeekingStart:
                    {
                        var at = data.AsSpan(_scan, _end - _scan).IndexOf((byte)0xFF);
                        while (at >= 0 && _scan + at + 1 < _end && data[_scan + at + 1] != 0xD8)
                        {
                            var next = data.AsSpan(_scan + at + 1, _end - _scan - at - 1).IndexOf((byte)0xFF);
                            at = next < 0 ? -1 : at + 1 + next;
                        }

                        if (at < 0 || _scan + at + 1 >= _end)
                        {
                            // Keep a possible trailing FF; drop the rest as garbage.
                            var keep = _end > _scan && data[_end - 1] == 0xFF ? 1 : 0;
                            SkippedBytes += _end - keep - _start;
                            _start = _scan = _end - keep;
                            jpeg = default;
                            return false;
                        }

                        SkippedBytes += _scan + at - _start;
                        _start = _scan + at;
                        _scan = _start + 2;
                        _phase = Phase.Segments;
                        break;
                    }

                case Phase.Segments:
                    {
                        if (_scan + 1 >= _end)
                        {
                            jpeg = default;
                            return false;
                        }

                        if (data[_scan] != 0xFF)
                        {
                            Resync(_start + 1);
                            break;
                        }

                        var marker = data[_scan + 1];
                        if (marker == 0xFF)
                        {
                            _scan++;
                            break;
                        }

                        if (marker == 0xD9)
                        {
                            return Emit(_scan + 2, out jpeg);
                        }

                        if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
                        {
                            _scan += 2;
                            break;
                        }

                        if (marker == 0xD8)
                        {
                            Resync(_scan); // a new SOI inside a header: the previous frame was cut off
                            break;
                        }

                        if (_scan + 3 >= _end)
                        {
                            jpeg = default;
                            return false;
                        }

                        var length = (data[_scan + 2] << 8) | data[_scan + 3];
                        if (length < 2)
                        {
                            Resync(_start + 1);
                            break;
                        }

                        if (_scan + 2 + length > _end)
                        {
                            if (_scan + 2 + length - _start > MaxFrameLength)
                            {
                                DropOversized();
                                break;
                            }

                            jpeg = default;
                            return false;
                        }

                        _scan += 2 + length;
                        if (marker == 0xDA)
                        {
                            _phase = Phase.Entropy;
                        }

                        break;
                    }

                case Phase.Entropy:
                    {
                        // Entropy-coded data: FF is followed by 00 (stuffing) or RSTn; anything else is a marker.
                        while (true)
                        {
                            var at = data.AsSpan(_scan, _end - _scan).IndexOf((byte)0xFF);
                            if (at < 0 || _scan + at + 1 >= _end)
                            {
                                _scan = at < 0 ? _end : _scan + at;
                                if (_end - _start > MaxFrameLength)
                                {
                                    DropOversized();
                                    break;
                                }

                                jpeg = default;
                                return false;
                            }

                            var next = data[_scan + at + 1];
                            if (next == 0x00 || next is >= 0xD0 and <= 0xD7 || next == 0xFF)
                            {
                                _scan += at + (next == 0xFF ? 1 : 2);
                                continue;
                            }

                            _scan += at;
                            _phase = Phase.Segments; // EOI, or another table/scan (progressive JPEG)
                            break;
                        }

                        break;
                    }
            }
        }
    }

    private bool Emit(int frameEnd, out ReadOnlyMemory<byte> jpeg)
    {
        jpeg = _buffer.AsMemory(_start, frameEnd - _start);
        _start = _scan = frameEnd;
        _phase = Phase.SeekingStart;
        return true;
    }

    private void Resync(int from)
    {
        SkippedBytes += from - _start;
        _start = _scan = from;
        _phase = Phase.SeekingStart;
    }

    private void DropOversized()
    {
        OversizedFrames++;
        SkippedBytes += _end - _start;
        _start = _scan = _end;
        _phase = Phase.SeekingStart;
    }

    /// <summary>Compacts the buffer, grows it when a frame needs more room, and reads more. False at end of stream.</summary>
    private bool Fill()
    {
        if (_start > 0)
        {
            var live = _end - _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, live);
            _scan -= _start;
            _end = live;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, MaxFrameLength + 64 * 1024));
            if (bigger.Length <= _buffer.Length)
            {
                ArrayPool<byte>.Shared.Return(bigger);
                DropOversized();
                return true;
            }

            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read <= 0)
        {
            _endOfStream = true;
            return false;
        }

        _end += read;
        return true;
    }

    /// <summary>Starts again at the beginning of a seekable stream (file replay in a loop).</summary>
    public void Rewind()
    {
        _stream.Seek(0, SeekOrigin.Begin);
        _start = _end = _scan = 0;
        _phase = Phase.SeekingStart;
        _endOfStream = false;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
