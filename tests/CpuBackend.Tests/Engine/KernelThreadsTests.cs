using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary><see cref="KernelThreads"/>: every item runs exactly once, across threads, however the loops arrive.</summary>
public sealed class KernelThreadsTests
{
    [Fact]
    public void Back_to_back_loops_run_every_item_exactly_once()
    {
        for (var loop = 0; loop < 2000; loop++)
        {
            var count = loop % 37 + 1;
            var runs = new int[count];
            KernelThreads.For(count, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, (n, i) => Assert.True(n == 1, $"loop {loop}: item {i} of {count} ran {n} times"));
        }
    }

    [Fact]
    public void Items_run_on_more_than_one_thread_also_after_the_workers_fell_asleep()
    {
        if (Environment.ProcessorCount == 1) return; // no workers: everything runs on the caller, as it should
        foreach (var idle in new[] { 0, 50 }) // 50 ms idle: the workers have stopped spinning and must be woken
        {
            Thread.Sleep(idle);
            var threads = new int[8];
            KernelThreads.For(threads.Length, i =>
            {
                threads[i] = Environment.CurrentManagedThreadId;
                Thread.Sleep(5);
            });
            Assert.True(threads.Distinct().Count() > 1, $"after {idle} ms idle all items ran on thread {threads[0]}");
        }
    }

    [Fact]
    public async Task Concurrent_callers_each_get_their_own_items()
    {
        var callers = Enumerable.Range(0, 4).Select(caller => Task.Factory.StartNew(() =>
        {
            for (var loop = 0; loop < 300; loop++)
            {
                var runs = new int[caller + 5];
                KernelThreads.For(runs.Length, i => Interlocked.Increment(ref runs[i]));
                if (runs.Any(n => n != 1)) return $"caller {caller} loop {loop}: [{string.Join(", ", runs)}]";
            }
            return null;
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.All(await Task.WhenAll(callers), Assert.Null);
    }

    [Fact]
    public void A_loop_started_inside_an_item_completes()
    {
        var runs = new int[6 * 5];
        KernelThreads.For(6, outer => KernelThreads.For(5, inner => Interlocked.Increment(ref runs[outer * 5 + inner])));
        Assert.All(runs, n => Assert.Equal(1, n));
    }

    [Fact]
    public void A_throwing_item_surfaces_after_the_others_ran_and_the_next_loop_works()
    {
        var runs = new int[10];
        var error = Assert.Throws<AggregateException>(() => KernelThreads.For(runs.Length, i =>
        {
            Interlocked.Increment(ref runs[i]);
            if (i == 3) throw new InvalidOperationException("item 3 failed");
        }));
        Assert.Equal("item 3 failed", Assert.IsType<InvalidOperationException>(Assert.Single(error.InnerExceptions)).Message);
        Assert.All(runs, n => Assert.Equal(1, n));

        var after = new int[10];
        KernelThreads.For(after.Length, i => Interlocked.Increment(ref after[i]));
        Assert.All(after, n => Assert.Equal(1, n));
    }
}
