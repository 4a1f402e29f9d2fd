using System.Runtime.CompilerServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The native blocks of KV caches: resident memory handed from a collected cache to the next of its size, within the pool's limit.</summary>
public sealed unsafe class KvMemoryTests
{
    private const long Small = 123_457, Large = (5L << 20) + 12_345;

    private readonly KvMemoryPool pool = new();

    [Theory]
    [InlineData(Small)]
    [InlineData(Large)]
    public void A_collected_block_is_kept_and_given_to_the_next_block_of_its_size(long bytes)
    {
        var freed = Drop(bytes, pool);
        KvCacheTests.Collect();
        Assert.Equal(1, pool.Count(KvMemory.SizeFor(bytes)));

        var next = new KvMemory(bytes, pool);

        Assert.Equal(freed, (nint)next.Pointer);
        Assert.Equal(0, pool.Count(KvMemory.SizeFor(bytes)));
        GC.KeepAlive(next);
    }

    [Fact]
    public void A_block_past_the_pools_limit_is_given_back_not_kept()
    {
        pool.Limit = Small - 1;

        Drop(Small, pool);
        KvCacheTests.Collect();

        Assert.Equal(0, pool.Count(Small));
    }

    [Fact]
    public void Blocks_of_2_MiB_or_more_start_on_a_2_MiB_boundary_and_are_writable_to_their_end()
    {
        var block = new KvMemory(Large, pool);

        Assert.Equal(6L << 20, KvMemory.SizeFor(Large));
        Assert.Equal(0, (long)block.Pointer % (2 << 20));
        block.Pointer[Large - 1] = 1;
        Assert.Equal(1, block.Pointer[Large - 1]);
        GC.KeepAlive(block);
    }

    [Fact]
    public void A_negative_size_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => new KvMemory(-1, pool));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint Drop(long bytes, KvMemoryPool pool)
    {
        var block = new KvMemory(bytes, pool);
        block.Pointer[0] = 1;
        return (nint)block.Pointer;
    }
}
