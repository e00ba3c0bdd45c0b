using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Relay.Hosting;

/// <summary>
/// Kestrel's connection buffers in blocks of <see cref="BlockSize"/> instead of its default 4 KiB. The socket
/// transport reads at most one block per receive, so with 4 KiB blocks the tunnel's bulk data (the appliance's
/// answers) costs a syscall and a wake-up per 4 KiB. Idle connections hold no block (Kestrel waits for data before it
/// asks for one), and at most <see cref="RetainedBlocks"/> free blocks (4 MiB) are kept for reuse.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
}

internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;
    public const int RetainedBlocks = 64;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (!_free.TryDequeue(out var block))
        {
            return new Block(this);
        }

        Interlocked.Decrement(ref _freeCount);
        block.Rented();
        return block;
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _freeCount) <= RetainedBlocks)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    private sealed class Block(LargeBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        private int _returned;

        public Memory<byte> Memory { get; } = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public void Rented() => Volatile.Write(ref _returned, 0);

        // A second Dispose must not queue the block twice: two renters would then share one buffer.
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 0)
            {
                pool.Return(this);
            }
        }
    }
}
