using System.Diagnostics;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Runs the forward pass's parallel loops on the calling thread plus one worker per other core.</summary>
/// <remarks>A decode step issues about 60 parallel loops back to back, each 0.05-1 ms of work. Parallel.For
/// wakes a sleeping thread-pool thread for each of them, which cost 25-45 us per loop on the 2-core
/// benchmark machine: a tenth of an f32 decode step and a quarter of an int8 one. These workers spin for a
/// while after each loop, so the next loop of the same step finds them awake.</remarks>
internal static class KernelThreads
{
    /// <summary>How long an idle worker spins before it sleeps: longer than the gaps between the loops of a
    /// step, short enough that a server waiting for requests gives its cores back.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    private static readonly Worker[] Workers = CreateWorkers();

    private static int busy;
    private static Action<int>? body;
    private static int count;
    private static int next;
    private static int pending;
    private static int generation;
    private static Exception? failure;

    /// <summary>Calls body(0) .. body(count - 1), each once, spread over the cores; returns when all have returned.</summary>
    /// <exception cref="AggregateException">A body threw; the other items still ran.</exception>
    public static void For(int count, Action<int> body)
    {
        if (count <= 1 || Workers.Length == 0)
        {
            for (var i = 0; i < count; i++) body(i);
            return;
        }
        // One loop at a time on these workers: a concurrent caller (another model in the same process, or a
        // loop started from inside a body) uses the framework's pool instead.
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            Parallel.For(0, count, body);
            return;
        }
        try
        {
            KernelThreads.body = body;
            KernelThreads.count = count;
            failure = null;
            Volatile.Write(ref pending, count);
            // A worker still leaving the previous loop may claim from here on; everything it reads after
            // the claim was written above.
            Volatile.Write(ref next, 0);
            Interlocked.Increment(ref generation);
            foreach (var worker in Workers) worker.Wake();
            Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            if (failure != null) throw new AggregateException(failure);
        }
        finally
        {
            KernelThreads.body = null;
            Volatile.Write(ref busy, 0);
        }
    }

    /// <summary>Claims and runs items of the current loop until none are left.</summary>
    private static void Drain()
    {
        int i;
        while ((i = Interlocked.Increment(ref next) - 1) < Volatile.Read(ref count))
        {
            try
            {
                Volatile.Read(ref body)!(i);
            }
            catch (Exception error)
            {
                Interlocked.CompareExchange(ref failure, error, null);
            }
            Interlocked.Decrement(ref pending);
        }
    }

    private static Worker[] CreateWorkers()
    {
        var workers = new Worker[Environment.ProcessorCount - 1];
        for (var i = 0; i < workers.Length; i++) workers[i] = new Worker(i + 1);
        return workers;
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim wake = new(false, spinCount: 1);
        private int asleep;

        public Worker(int index) => new Thread(Run) { IsBackground = true, Name = $"gptj-kernels-{index}" }.Start();

        public void Wake()
        {
            if (Volatile.Read(ref asleep) == 1) wake.Set();
        }

        private void Run()
        {
            var seen = Volatile.Read(ref generation);
            while (true)
            {
                var idleSince = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref generation) == seen)
                {
                    if (Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    // Announce the sleep before the last look, so a loop published in between either is
                    // seen here or finds asleep set and wakes this worker.
                    Interlocked.Exchange(ref asleep, 1);
                    if (Volatile.Read(ref generation) == seen) wake.Wait();
                    wake.Reset();
                    Volatile.Write(ref asleep, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref generation);
                Drain();
            }
        }
    }
}
