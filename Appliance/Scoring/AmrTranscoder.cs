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
/// <c>#!AMR\n</c> (an image or an error page must not reach the decoder) and more than the size cap.
/// </summary>
internal sealed class AmrInputGuard(Stream inner, long maxBytes) : Stream
{
    private static readonly byte[] Magic = "#!AMR\n"u8.ToArray();

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

    private void Check(ReadOnlySpan<byte> data)
    {
        // Compare the part of the magic this write covers (a first write may be shorter than 6 bytes).
        if (Written < Magic.Length)
        {
            var start = (int)Written;
            var length = Math.Min(Magic.Length - start, data.Length);
            if (!data[..length].SequenceEqual(Magic.AsSpan(start, length)))
            {
                throw new AudioRejectedException("the voice is not AMR (it does not start with #!AMR)");
            }
        }

        if (Written + data.Length > maxBytes)
        {
            throw new AudioRejectedException($"the voice is more than Scoring:MaxAudioBytes ({maxBytes}); download stopped");
        }

        Written += data.Length;
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
