using System.Runtime.CompilerServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The native blocks of KV caches: resident memory handed from a collected cache to the next of its size.</summary>
public sealed unsafe class KvMemoryTests
{
    // Sizes no cache of the test models has, one per test, so no other test frees or takes blocks of them.
    private const long Small = 123_457, Large = (5L << 20) + 12_345, Larger = (9L << 20) + 1;

    [Theory]
    [InlineData(Small)]
    [InlineData(Large)]
    public void A_collected_block_is_kept_and_given_to_the_next_block_of_its_size(long bytes)
    {
        var freed = Drop(bytes);
        KvCacheTests.Collect();
        Assert.Equal(1, KvMemory.RetainedBlocks(bytes));

        var next = new KvMemory(bytes);

        Assert.Equal(freed, (nint)next.Pointer);
        Assert.Equal(0, KvMemory.RetainedBlocks(bytes));
        GC.KeepAlive(next);
    }

    [Fact]
    public void Blocks_of_2_MiB_or_more_start_on_a_2_MiB_boundary_and_are_writable_to_their_end()
    {
        var block = new KvMemory(Larger);

        Assert.Equal(0, (long)block.Pointer % (2 << 20));
        block.Pointer[Larger - 1] = 1;
        Assert.Equal(1, block.Pointer[Larger - 1]);
        GC.KeepAlive(block);
    }

    [Fact]
    public void A_negative_size_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => new KvMemory(-1));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint Drop(long bytes)
    {
        var block = new KvMemory(bytes);
        block.Pointer[0] = 1;
        return (nint)block.Pointer;
    }
}
