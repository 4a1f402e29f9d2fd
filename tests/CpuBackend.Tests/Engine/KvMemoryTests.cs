using System.Runtime.CompilerServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The native blocks of KV caches: resident memory handed from a collected cache to the next of its size, within the pool's limit.</summary>
public sealed class KvMemoryTests
{
    private const long Small = 123_457, Large = (5L << 20) + 12_345;

    private readonly KvMemoryPool pool = new();

    [Theory]
    [InlineData(Small)]
    [InlineData(Large)]
    public unsafe void A_collected_block_is_kept_and_given_to_the_next_block_of_its_size(long bytes)
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
    public unsafe void Blocks_of_2_MiB_or_more_start_on_a_2_MiB_boundary_and_are_writable_to_their_end()
    {
        var block = new KvMemory(Large, pool);

        Assert.Equal(6L << 20, KvMemory.SizeFor(Large));
        Assert.Equal(0, (long)block.Pointer % (2 << 20));
        block.Pointer[Large - 1] = 1;
        Assert.Equal(1, block.Pointer[Large - 1]);
        GC.KeepAlive(block);
    }

    // The pool is shared by the threads that make caches and the finalizer thread that keeps blocks: blocks of alternating
    // sizes are made and dropped from four threads while collections run, and a block handed to two owners at once, or
    // given back while still in use, shows up as another owner's mark in it. Each thread makes at least its share of
    // blocks, however late the thread pool starts it (in CI it once started after the 3 s had passed, and none were made),
    // and the collections go on until the last thread is done.
    [Fact]
    public async Task Blocks_made_and_dropped_from_many_threads_have_one_owner_at_a_time()
    {
        const int Workers = 4, AtLeastEach = 500;
        long[] sizes = [Small, Large, 300_001];
        var live = new System.Collections.Concurrent.ConcurrentDictionary<nint, int>();
        var stop = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        var made = new StrongBox<long>();
        var workers = Enumerable.Range(1, Workers).Select(owner => Task.Run(() => MakeAndDrop(owner, sizes, live, stop, AtLeastEach, made))).ToArray();
        var collector = Task.Run(() =>
        {
            while (!workers.All(w => w.IsCompleted))
            {
                GC.Collect();
                Thread.Sleep(5);
            }
        });

        // A bound on the wait so a deadlock fails the test instead of hanging it; not a speed assertion.
        await Task.WhenAll([.. workers, collector]).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(made.Value >= Workers * AtLeastEach, $"only {made.Value} blocks were made");
        Assert.Empty(live);
    }

    private unsafe void MakeAndDrop(int owner, long[] sizes, System.Collections.Concurrent.ConcurrentDictionary<nint, int> live, DateTime stop, int atLeast,
        StrongBox<long> made)
    {
        var held = new List<(KvMemory Block, long Size)>();
        for (var i = 0; i < atLeast || DateTime.UtcNow < stop; i++)
        {
            var size = sizes[(owner + i) % sizes.Length];
            var block = new KvMemory(size, pool);
            Assert.True(live.TryAdd((nint)block.Pointer, owner), "a block was handed out while another owner held it");
            block.Pointer[0] = (byte)owner;
            block.Pointer[size - 1] = (byte)owner;
            held.Add((block, size));
            Interlocked.Increment(ref made.Value);
            if (held.Count <= 3) continue;
            var (oldest, oldestSize) = held[0];
            held.RemoveAt(0);
            Assert.Equal((byte)owner, oldest.Pointer[0]);
            Assert.Equal((byte)owner, oldest.Pointer[oldestSize - 1]);
            Assert.True(live.TryRemove((nint)oldest.Pointer, out _));
            GC.KeepAlive(oldest); // until it has left the live set: unreachable earlier, it could be kept and handed out before
        }
        foreach (var (block, _) in held) live.TryRemove((nint)block.Pointer, out _);
    }

    [Fact]
    public void A_closed_pool_frees_what_it_kept_and_keeps_nothing_more()
    {
        Drop(Small, pool);
        KvCacheTests.Collect();
        Assert.Equal(1, pool.Count(Small));

        pool.Close();
        Drop(Small, pool);
        KvCacheTests.Collect();

        Assert.Equal(0, pool.Count(Small));
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void A_negative_size_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => new KvMemory(-1, pool));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe nint Drop(long bytes, KvMemoryPool pool)
    {
        var block = new KvMemory(bytes, pool);
        block.Pointer[0] = 1;
        return (nint)block.Pointer;
    }
}
