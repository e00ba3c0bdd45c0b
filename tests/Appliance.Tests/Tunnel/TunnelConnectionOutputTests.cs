using System.Buffers;
using System.IO.Pipelines;
using Appliance.Tunnel;

namespace Appliance.Tests.Tunnel;

/// <summary>The output pump between Kestrel and the tunnel's WebSocket stream (one write = one WebSocket message).</summary>
public sealed class TunnelConnectionOutputTests
{
    [Fact]
    public async Task Output_ManySmallFlushesWhileASendIsUnderWay_GoOutInOrderInOneOrTwoMessages()
    {
        var link = new RecordingStream { HoldFirstWrite = true };
        await using var connection = new TunnelConnection(link, Info(), () => { });
        var expected = new List<byte>();

        await WriteAsync(connection.Output, Fill(1000, 0));
        expected.AddRange(Fill(1000, 0));
        await link.FirstWriteStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 1; i <= 100; i++)
        {
            // Kestrel flushes every frame on its own.
            await WriteAsync(connection.Output, Fill(1000, i));
            expected.AddRange(Fill(1000, i));
        }

        link.ReleaseFirstWrite();
        await connection.Output.CompleteAsync();
        await connection.DisposeAsync();

        Assert.Equal(expected, link.Written);
        // The 100 flushes made while the first send was under way: one message per 64 KiB output segment at most.
        Assert.Equal(1000, link.WriteSizes[0]);
        Assert.InRange(link.WriteSizes.Count - 1, 1, 2);
    }

    [Fact]
    public async Task Output_OneLargeWrite_IsSentInMessagesOfAtMostTheLimit()
    {
        var link = new RecordingStream();
        await using var connection = new TunnelConnection(link, Info(), () => { });
        var body = Fill(TunnelConnection.MaxMessageBytes * 3 + 12345, 7);

        await WriteAsync(connection.Output, body);
        await connection.Output.CompleteAsync();
        await connection.DisposeAsync();

        Assert.Equal(body, link.Written);
        Assert.All(link.WriteSizes, size => Assert.InRange(size, 1, TunnelConnection.MaxMessageBytes));
        Assert.InRange(link.WriteSizes.Count, 4, body.Length / (16 * 1024));
    }

    [Fact]
    public async Task Output_LinkFailsUnderASend_AbortsTheSessionAndSignalsClosed()
    {
        var link = new RecordingStream { FailWrites = true };
        var aborted = 0;
        await using var connection = new TunnelConnection(link, Info(), () => Interlocked.Increment(ref aborted));

        await WriteAsync(connection.Output, Fill(100, 1));

        await connection.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(connection.ConnectionClosed.IsCancellationRequested);
        Assert.True(aborted >= 1);

        // Kestrel's next write learns that nobody reads any more, instead of piling up data.
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                var flush = await WriteAsync(connection.Output, Fill(100, 2));
                if (flush.IsCompleted)
                {
                    throw new IOException("completed");
                }
            }
        });
    }

    private static TunnelConnectionInfo Info() => new("relay-key", DateTimeOffset.UnixEpoch);

    private static byte[] Fill(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 31 + seed))];

    private static async Task<FlushResult> WriteAsync(PipeWriter writer, byte[] bytes)
    {
        writer.Write(bytes);
        return await writer.FlushAsync();
    }

    /// <summary>The WebSocket stream's stand-in: records each write (a message); can hold the first one back or fail.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool HoldFirstWrite { get; init; }

        public bool FailWrites { get; init; }

        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<byte> Written { get; } = [];

        public List<int> WriteSizes { get; } = [];

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void ReleaseFirstWrite() => _release.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (FailWrites)
            {
                throw new IOException("link down");
            }

            var first = WriteSizes.Count == 0;
            lock (Written)
            {
                Written.AddRange(buffer.ToArray());
                WriteSizes.Add(buffer.Length);
            }

            if (first)
            {
                FirstWriteStarted.TrySetResult();
                if (HoldFirstWrite)
                {
                    await _release.Task;
                }
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
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
