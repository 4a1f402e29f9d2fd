using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary><see cref="KernelThreads"/>: every item runs exactly once, across threads, however the loops arrive.</summary>
/// <remarks>Run alone (<see cref="KernelThreadsCollection"/>): while another test class's model holds the workers, a loop
/// runs on <c>Parallel.For</c> instead, whose chunks keep an item queued behind one that is held, and several tests here
/// hold an item until the loop's other items have started: run beside the scheduler tests, 2 of 16 runs failed that way
/// before the loop's patience and 4 of 8 after it; none of 10 alone.</remarks>
[Collection(nameof(KernelThreadsCollection))]
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

    /// <summary>The wedge seen under load: a worker late leaving a two-item loop claimed an item of the next loop
    /// before its counter was reset, so that item ran twice and the loop's pending count went below zero.</summary>
    [Fact]
    public void Alternating_loop_sizes_from_several_threads_run_every_item_exactly_once_and_never_hang()
    {
        var duration = TimeSpan.FromSeconds(6);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var loopsRun = 0L;
        var callers = Enumerable.Range(0, 3).Select(caller => new Thread(() =>
        {
            var random = new Random(caller);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var loop = 0; clock.Elapsed < duration; loop++)
            {
                // Two items, then 2..31: the shapes of a batch-1 step's small loops next to its matrix bands.
                var count = loop % 2 == 0 ? 2 : random.Next(2, 32);
                var runs = new int[count];
                KernelThreads.For(count, i =>
                {
                    Interlocked.Increment(ref runs[i]);
                    if (i % 3 == 0) Thread.SpinWait(random.Next(1, 50));
                });
                Interlocked.Increment(ref loopsRun);
                for (var i = 0; i < count; i++)
                    if (runs[i] != 1) failures.Enqueue($"caller {caller} loop {loop}: item {i} of {count} ran {runs[i]} times");
            }
        }) { IsBackground = true, Name = $"stress-caller-{caller}" }).ToArray();
        foreach (var thread in callers) thread.Start();

        var deadline = duration + TimeSpan.FromSeconds(30);
        var hung = callers.Where(thread => !thread.Join(deadline)).Select(thread => thread.Name).ToArray();

        Assert.True(hung.Length == 0, $"KernelThreads.For never returned on {string.Join(", ", hung)} after {Interlocked.Read(ref loopsRun)} loops");
        Assert.Empty(failures.Take(10));
        Assert.True(Interlocked.Read(ref loopsRun) > 1000, $"only {loopsRun} loops ran");
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

    /// <summary>Each thread starts on a share of its own; whichever item blocks its thread, the other threads must take
    /// the rest of that thread's share, or the loop never ends.</summary>
    [Fact]
    public void Items_of_a_thread_held_inside_one_item_are_run_by_the_others()
    {
        if (Environment.ProcessorCount == 1) return; // no workers: the caller runs every item in turn
        const int Count = 12;
        for (var held = 0; held < Count; held++)
        {
            var runs = new int[Count];
            var others = 0;
            var othersAtTimeout = -1;
            KernelThreads.For(Count, i =>
            {
                if (i != held) Interlocked.Increment(ref others);
                else if (!SpinWait.SpinUntil(() => Volatile.Read(ref others) == Count - 1, TimeSpan.FromSeconds(10))) othersAtTimeout = Volatile.Read(ref others);
                Interlocked.Increment(ref runs[i]);
            });
            Assert.True(othersAtTimeout < 0, $"with item {held} holding its thread, only {othersAtTimeout} of the other {Count - 1} items ran in 10 s");
            Assert.All(runs, (n, i) => Assert.True(n == 1, $"item {i} ran {n} times with item {held} held"));
        }
    }

    /// <summary>A caller whose items are done waits for the workers' last items; once one takes longer than its patience
    /// it sleeps, and whoever finishes the loop's last item must wake it, or For never returns.</summary>
    [Fact]
    public void A_caller_asleep_on_a_workers_long_item_is_woken_when_the_loop_ends()
    {
        if (Environment.ProcessorCount == 1) return; // no workers: the caller runs every item itself
        var loops = 0;
        var slept = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var caller = new Thread(() =>
        {
            for (var loop = 0; loop < 300; loop++, Volatile.Write(ref loops, loop))
            {
                var callerId = Environment.CurrentManagedThreadId;
                var count = 2 + loop % 15;
                var runs = new int[count];
                KernelThreads.For(count, i =>
                {
                    Interlocked.Increment(ref runs[i]);
                    // Every item a worker takes holds it for 2 ms (alternately asleep and spinning), far past the caller's
                    // patience; the caller's own items take about 20 µs, so that the workers get some.
                    if (Environment.CurrentManagedThreadId == callerId)
                    {
                        Thread.SpinWait(600);
                        return;
                    }
                    Interlocked.Increment(ref slept);
                    if (loop % 2 == 0) Thread.Sleep(2);
                    else Thread.SpinWait(200_000);
                });
                for (var i = 0; i < count; i++)
                    if (runs[i] != 1) failures.Enqueue($"loop {loop}: item {i} of {count} ran {runs[i]} times");
            }
        }) { IsBackground = true };
        caller.Start();
        Assert.True(caller.Join(TimeSpan.FromSeconds(60)), $"KernelThreads.For never returned in loop {Volatile.Read(ref loops)} of 300");
        Assert.Empty(failures.Take(10));
        Assert.True(slept > 0, "no item ran on a worker, so the caller never waited for one");
    }

    /// <summary>A worker whose items are done sleeps once the caller's last item takes longer than its patience; the next
    /// loop must wake it, or every later loop runs on the caller alone.</summary>
    [Fact]
    public void A_worker_asleep_on_the_callers_long_item_joins_the_next_loop()
    {
        if (Environment.ProcessorCount == 1) return; // no workers
        for (var round = 0; round < 20; round++)
        {
            var callerId = Environment.CurrentManagedThreadId;
            var runs = new int[8];
            // Item 0 is the caller's first: it holds the caller for 3 ms, while the workers run the rest and then wait.
            KernelThreads.For(runs.Length, i =>
            {
                Interlocked.Increment(ref runs[i]);
                if (i == 0 && Environment.CurrentManagedThreadId == callerId) Thread.Sleep(3);
            });
            Assert.All(runs, (n, i) => Assert.True(n == 1, $"round {round}: item {i} ran {n} times"));

            var threads = new int[8];
            KernelThreads.For(threads.Length, i =>
            {
                threads[i] = Environment.CurrentManagedThreadId;
                Thread.Sleep(2);
            });
            Assert.True(threads.Distinct().Count() > 1, $"round {round}: after a long caller item, all items of the next loop ran on thread {threads[0]}");
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

[CollectionDefinition(nameof(KernelThreadsCollection), DisableParallelization = true)]
public sealed class KernelThreadsCollection;
