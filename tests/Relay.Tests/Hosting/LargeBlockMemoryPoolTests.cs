using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Relay.Hosting;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Hosting;

public sealed class LargeBlockMemoryPoolTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(LargeBlockMemoryPool.BlockSize)]
    public void Rent_AnySizeUpToABlock_GivesAWholeBlock(int size)
    {
        using var pool = new LargeBlockMemoryPool();
        using var block = pool.Rent(size);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, block.Memory.Length);
    }

    [Fact]
    public void Rent_MoreThanABlock_IsRefused()
    {
        using var pool = new LargeBlockMemoryPool();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public void Rent_AfterAReturn_ReusesTheBlock()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent();
        var array = Array(first);
        first.Dispose();

        using var second = pool.Rent();
        Assert.Same(array, Array(second));
    }

    [Fact]
    public void Dispose_Twice_ReturnsTheBlockOnce()
    {
        using var pool = new LargeBlockMemoryPool();
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();

        using var first = pool.Rent();
        using var second = pool.Rent();
        Assert.NotSame(Array(first), Array(second));
    }

    [Fact]
    public void Return_MoreThanTheRetainedCount_KeepsOnlyThatMany()
    {
        using var pool = new LargeBlockMemoryPool();
        var count = LargeBlockMemoryPool.RetainedBlocks + 10;
        var rented = Enumerable.Range(0, count).Select(_ => pool.Rent()).ToList();
        var arrays = rented.Select(Array).ToHashSet();
        rented.ForEach(b => b.Dispose());

        var again = Enumerable.Range(0, count).Select(_ => pool.Rent()).ToList();
        Assert.Equal(LargeBlockMemoryPool.RetainedBlocks, again.Count(b => arrays.Contains(Array(b))));
        again.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task Relay_GivesKestrelTheLargeBlockPool()
    {
        await using var relay = await RelayServer.StartAsync();
        Assert.IsType<LargeBlockMemoryPoolFactory>(relay.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
    }

    private static byte[] Array(System.Buffers.IMemoryOwner<byte> block) =>
        MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment) ? segment.Array! : throw new InvalidOperationException();
}
