using System.Buffers;
using System.IO.Pipelines;
using Relay.Proxy;

namespace Relay.Tests.Proxy;

/// <summary>How the relay copies an answer from the tunnel to the visitor.</summary>
public sealed class ForwarderCopyTests
{
    [Fact]
    public async Task CopyBody_BurstThenSilence_SendsTheBurstWithoutWaitingForMore()
    {
        var source = new Pipe();
        var target = new Pipe();
        var copying = Forwarder.CopyBodyAsync(source.Reader.AsStream(), target.Writer, CancellationToken.None);

        // A frame of a live stream arrives in three pieces, then nothing for a while.
        foreach (var piece in new[] { Fill(5000, 1), Fill(7000, 2), Fill(300, 3) })
        {
            await source.Writer.WriteAsync(piece);
        }

        var received = await ReadAtLeastAsync(target.Reader, 12_300);
        Assert.Equal([.. Fill(5000, 1), .. Fill(7000, 2), .. Fill(300, 3)], received);
        Assert.False(copying.IsCompleted);

        await source.Writer.WriteAsync(Fill(10, 4));
        await source.Writer.CompleteAsync();
        await copying.WaitAsync(TimeSpan.FromSeconds(10));
        await target.Writer.CompleteAsync();
        Assert.Equal(Fill(10, 4), await ReadAtLeastAsync(target.Reader, 10));
    }

    [Fact]
    public async Task CopyBody_LargeBodyInOddPieces_ArrivesWhole()
    {
        var body = Fill(5 * 1024 * 1024 + 17, 9);
        var source = new ChoppyStream(body, new Random(1234));
        var target = new Pipe(new PipeOptions(pauseWriterThreshold: 0));

        await Forwarder.CopyBodyAsync(source, target.Writer, CancellationToken.None);
        await target.Writer.CompleteAsync();

        var result = await target.Reader.ReadAtLeastAsync(body.Length + 1);
        Assert.True(result.IsCompleted);
        Assert.Equal(body, result.Buffer.ToArray());
    }

    [Fact]
    public async Task CopyBody_VisitorGoneWhileTheTunnelIsSilent_FailsAtOnce()
    {
        var source = new Pipe();
        var target = new Pipe();
        var copying = Forwarder.CopyBodyAsync(source.Reader.AsStream(), target.Writer, CancellationToken.None);
        await target.Reader.CompleteAsync(new IOException("visitor left"));

        await source.Writer.WriteAsync(Fill(100, 1));
        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => copying.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsNotType<TimeoutException>(thrown);
    }

    [Fact]
    public async Task CopyBody_VisitorSideClosed_StopsReadingTheTunnel()
    {
        var source = new Pipe();
        var target = new Pipe();
        var copying = Forwarder.CopyBodyAsync(source.Reader.AsStream(), target.Writer, CancellationToken.None);
        await target.Reader.CompleteAsync();

        await source.Writer.WriteAsync(Fill(100, 1));
        await source.Writer.WriteAsync(Fill(100, 2));
        await copying.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static byte[] Fill(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed))];

    private static async Task<byte[]> ReadAtLeastAsync(PipeReader reader, int count)
    {
        var result = await reader.ReadAtLeastAsync(count).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    /// <summary>Answers reads with random-sized pieces, sometimes at once and sometimes after a yield, like a busy tunnel.</summary>
    private sealed class ChoppyStream(byte[] data, Random random) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (random.Next(3) == 0)
            {
                await Task.Yield();
            }

            var count = Math.Min(Math.Min(buffer.Length, random.Next(1, 40_000)), data.Length - _position);
            data.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
