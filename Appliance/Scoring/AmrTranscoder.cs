using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Appliance.Scoring;

/// <summary>
/// ffmpeg decoding AMR on stdin into PCM s16le 16 kHz mono on stdout, as the bytes arrive: nothing is written to
/// disk and no whole clip is held. stderr is kept (its tail) to explain failures.
/// </summary>
internal sealed class AmrTranscoder : IDisposable
{
    private const int ErrorTailChars = 2000;
    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private readonly Task _errorReader;
    private int _inputClosed;
    private int _killed;

    private AmrTranscoder(Process process)
    {
        _process = process;
        _errorReader = Task.Run(ReadErrorsAsync);
    }

    public Stream Input => _process.StandardInput.BaseStream;

    public Stream Output => _process.StandardOutput.BaseStream;

    public string ErrorTail
    {
        get
        {
            lock (_errors)
            {
                var text = _errors.ToString().Trim();
                return text.Length == 0 ? "no error output" : text.Replace('\n', ' ');
            }
        }
    }

    public static AmrTranscoder Start(string ffmpegPath)
    {
        var start = new ProcessStartInfo(ffmpegPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-hide_banner", "-nostdin", "-loglevel", "error", "-f", "amr", "-i", "pipe:0",
                     "-f", "s16le", "-acodec", "pcm_s16le", "-ar", "16000", "-ac", "1", "pipe:1"])
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            return new AmrTranscoder(Process.Start(start) ?? throw new AudioRejectedException($"could not start {ffmpegPath}"));
        }
        catch (Win32Exception ex)
        {
            throw new AudioRejectedException($"could not start {ffmpegPath} (Scoring:FfmpegPath): {ex.Message}");
        }
    }

    /// <summary>End of the AMR input: ffmpeg flushes and exits.</summary>
    public void CloseInput()
    {
        if (Interlocked.Exchange(ref _inputClosed, 1) == 0)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // ffmpeg already exited (broken pipe).
            }
        }
    }

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        await _errorReader.WaitAsync(cancellationToken);
        // Killed here (the download was refused, or scoring ended early): the caller has the reason.
        if (_process.ExitCode != 0 && Volatile.Read(ref _killed) == 0)
        {
            throw new AudioRejectedException($"ffmpeg could not decode the AMR voice (exit {_process.ExitCode}: {ErrorTail})");
        }
    }

    public void Kill()
    {
        Interlocked.Exchange(ref _killed, 1);
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private async Task ReadErrorsAsync()
    {
        var buffer = new char[1024];
        int read;
        while ((read = await _process.StandardError.ReadAsync(buffer)) > 0)
        {
            lock (_errors)
            {
                _errors.Append(buffer, 0, read);
                if (_errors.Length > ErrorTailChars)
                {
                    _errors.Remove(0, _errors.Length - ErrorTailChars);
                }
            }
        }
    }

    public void Dispose()
    {
        Kill();
        CloseInput();
        _process.Dispose();
    }
}

/// <summary>
/// What WeCom's media/get writes into ffmpeg: refuses anything that does not start with the AMR magic
/// <c>#!AMR\n</c> (an image or an error page must not reach the decoder), more than the size cap, and a body that is
/// not AMR-NB frames (RFC 4867 §5.3, single channel): ffmpeg decodes garbage tolerantly, so a damaged voice would
/// otherwise be scored. Frames are checked as the bytes stream through (any write boundaries), without holding the
/// clip; a write is checked before any of it is passed on. <see cref="Complete"/> checks the end (no frame cut short,
/// at least one frame) and must be called before ffmpeg's input is closed.
/// </summary>
/// <remarks>
/// Frame types 9..14 are refused: for AMR-NB they are other codecs' SID frames (GSM-EFR, TDMA-EFR, PDC-EFR) or
/// reserved, never written by an AMR-NB encoder (RFC 4867 §4.3.2 says to discard such packets); ffmpeg's demuxer
/// would read them as empty frames, which in practice means random bytes. Frames with Q=0 ("severely damaged",
/// legal in the format) are accepted: the decoder conceals them, and an occasional one in a real voice message
/// must not cost the user their score.
/// </remarks>
internal sealed class AmrInputGuard(Stream inner, long maxBytes) : Stream
{
    private static readonly byte[] Magic = "#!AMR\n"u8.ToArray();

    /// <summary>
    /// Speech bytes after the header byte, by frame type (AMR-NB, 3GPP TS 26.101 table 1a: 95..244 bits rounded up
    /// to bytes; 8 is SID, 15 NO_DATA); -1 for 9..14. ffmpeg's amrnb demuxer has the same sizes plus the header byte.
    /// </summary>
    private static readonly int[] SpeechBytes = [12, 13, 15, 17, 19, 20, 26, 31, 5, -1, -1, -1, -1, -1, -1, 0];

    // Where the stream is: the current frame (1-based count), where its header byte is, its length and how much of
    // it is still to come (0: the next byte is a frame header).
    private long _frames;
    private long _frameStart;
    private int _frameBytes;
    private int _frameRemaining;

    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Written;

    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Check(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Check(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    /// <summary>The input has ended: refuses a voice that stops inside the magic or a frame, or that has no frames.</summary>
    public void Complete()
    {
        if (Written == 0)
        {
            throw new AudioRejectedException("the voice is empty");
        }

        if (Written < Magic.Length)
        {
            throw new AudioRejectedException("the voice is not AMR (it ends inside the #!AMR header)");
        }

        if (_frames == 0)
        {
            throw new AudioRejectedException("the AMR voice is empty (no frames after the #!AMR header)");
        }

        if (_frameRemaining > 0)
        {
            throw Damaged(_frames, _frameStart, $"cut short, {_frameBytes - _frameRemaining} of its {_frameBytes} bytes");
        }
    }

    private void Check(ReadOnlySpan<byte> data)
    {
        // Compare the part of the magic this write covers (a first write may be shorter than 6 bytes).
        var i = 0;
        if (Written < Magic.Length)
        {
            var start = (int)Written;
            i = Math.Min(Magic.Length - start, data.Length);
            if (!data[..i].SequenceEqual(Magic.AsSpan(start, i)))
            {
                throw new AudioRejectedException("the voice is not AMR (it does not start with #!AMR)");
            }
        }

        // The frames this write covers, on copies: a refused write leaves the state as it was.
        var frames = _frames;
        var frameStart = _frameStart;
        var frameBytes = _frameBytes;
        var remaining = _frameRemaining;
        while (i < data.Length)
        {
            if (remaining > 0)
            {
                var skip = Math.Min(remaining, data.Length - i);
                remaining -= skip;
                i += skip;
                continue;
            }

            frames++;
            frameStart = Written + i;
            var header = data[i++];
            if ((header & 0x80) != 0)
            {
                throw Damaged(frames, frameStart, $"header 0x{header:X2} has the P bit set");
            }

            if ((header & 0x03) != 0)
            {
                throw Damaged(frames, frameStart, $"header 0x{header:X2} has padding bits set");
            }

            var type = (header >> 3) & 0x0F;
            remaining = SpeechBytes[type];
            if (remaining < 0)
            {
                throw Damaged(frames, frameStart, $"reserved frame type {type}");
            }

            frameBytes = 1 + remaining;
        }

        if (Written + data.Length > maxBytes)
        {
            throw new AudioRejectedException($"the voice is more than Scoring:MaxAudioBytes ({maxBytes}); download stopped");
        }

        _frames = frames;
        _frameStart = frameStart;
        _frameBytes = frameBytes;
        _frameRemaining = remaining;
        Written += data.Length;
    }

    /// <summary>Frames are counted from 1; the byte is the frame header's offset in the file (the magic is bytes 0..5).</summary>
    private static AudioRejectedException Damaged(long frame, long offset, string what) =>
        new(FormattableString.Invariant($"the AMR voice is damaged (frame {frame} at byte {offset}: {what})"));

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
