using System.Diagnostics;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Runs the forward pass's parallel loops on the calling thread plus one worker per other core.</summary>
/// <remarks>A decode step issues about 60 parallel loops back to back, each 0.05-1 ms of work. Parallel.For
/// wakes a sleeping thread-pool thread for each of them, which cost 25-45 us per loop on the 2-core
/// benchmark machine: a tenth of an f32 decode step and a quarter of an int8 one. These workers spin for a
/// while after each loop, so the next loop of the same step finds them awake.
/// Each loop is its own <see cref="Loop"/> object with its own claim state, so a worker that is late
/// leaving one loop can only claim from that loop (where nothing is left), never an item of the next one;
/// docs/engine.md explains why this hand-off is correct.</remarks>
internal static class KernelThreads
{
    /// <summary>How long an idle worker spins before it sleeps: longer than the gaps between the loops of a
    /// step, short enough that a server waiting for requests gives its cores back.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    /// <summary>How often a spinning worker offers its core (sched_yield) to threads waiting for one. On a machine the
    /// engine shares with the request path (the Gateway and Preprocessor on 2 cores), a thread that woke up while this
    /// worker spun otherwise waited for the scheduler to preempt it, once per hop: under the AppHost at 32 clients the
    /// Gateway path's added p50 was 6.7-7.4 ms with pure spinning and 4.2-6.3 ms with the offer (three pairs of runs).
    /// With nothing else runnable the call returns at once: the engine suite's batch-1 and ten-sequence rates were the same
    /// in three alternating pairs (int8 batch 1 433-443 against 426-447 tok/s).</summary>
    private static readonly long YieldTicks = Stopwatch.Frequency / 50_000; // 20 us

    /// <summary>The least a thread whose items of a loop are done waits, spinning, for another thread's last item before
    /// it sleeps instead (<see cref="Patience"/>).</summary>
    /// <remarks>Past this the item's thread has most likely been preempted by a thread of the request path, which on a
    /// machine the engine shares with its Gateway and Preprocessor happens at every hop. While the waiting thread spins,
    /// its core looks busy and the preempted thread queues behind the preempting one; once it sleeps, the kernel moves the
    /// preempted thread to the freed core at once. Gateway throughput ratio at 32 clients (`gateway --processes`), six
    /// pairs of runs: 0.898 / 0.913 against 0.888 / 0.899 (gateway / gw-sized means, five of six pairs higher on each);
    /// the engine suite's rates were the same.</remarks>
    private static readonly long PatienceFloorTicks = Stopwatch.Frequency / 20_000; // 50 us

    /// <summary>Wakes a loop's caller that sleeps on the loop's last item (<see cref="Loop.CallerAsleep"/>).</summary>
    private static readonly ManualResetEventSlim CallerWake = new(false, spinCount: 1);

    private static readonly Worker[] Workers = CreateWorkers();

    private static int busy;
    private static Loop? current;
    private static int generation;

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
            ForOnThreadPool(count, body);
            return;
        }
        try
        {
            var loop = new Loop(body, count, Workers.Length + 1);
            // The caller owns share 0, worker i share i. The loop is complete before it is published, and published
            // before the generation moves on, so a worker that sees the new generation reads this loop (or a later
            // one), never a half-built one.
            Volatile.Write(ref current, loop);
            Interlocked.Increment(ref generation);
            foreach (var worker in Workers) worker.Wake();
            var patience = Patience(loop.Drain(0));
            var spin = new SpinWait();
            var waitSince = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref loop.Pending) != 0)
            {
                if (Stopwatch.GetTimestamp() - waitSince < patience)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                // Reset before announcing the sleep: a wake for this loop comes after the announcement, so it is never
                // lost; one left over from an earlier loop only makes this look again.
                CallerWake.Reset();
                Interlocked.Exchange(ref loop.CallerAsleep, 1);
                if (Volatile.Read(ref loop.Pending) != 0) CallerWake.Wait();
            }
            if (loop.Failure != null) throw new AggregateException(loop.Failure);
        }
        finally
        {
            // Releases the body's captures; a worker that reads null has nothing to do.
            Volatile.Write(ref current, null);
            Volatile.Write(ref busy, 0);
        }
    }

    /// <summary>How long a thread waits, spinning, for a loop's last items: twice its own items' mean time in that loop
    /// (an lm_head band of a ten-row step takes 150 µs, and waiting that long is normal), at least <see cref="PatienceFloorTicks"/>.</summary>
    private static long Patience(long itemTicks) => Math.Max(PatienceFloorTicks, 2 * itemTicks);

    /// <summary>The same contract on the framework's pool: Parallel.For alone stops handing out items after a body
    /// throws, so the other items would not all run.</summary>
    private static void ForOnThreadPool(int count, Action<int> body)
    {
        Exception? failure = null;
        Parallel.For(0, count, i =>
        {
            try
            {
                body(i);
            }
            catch (Exception error)
            {
                Interlocked.CompareExchange(ref failure, error, null);
            }
        });
        if (failure != null) throw new AggregateException(failure);
    }

    private static Worker[] CreateWorkers()
    {
        var workers = new Worker[Environment.ProcessorCount - 1];
        for (var i = 0; i < workers.Length; i++) workers[i] = new Worker(i + 1);
        return workers;
    }

    /// <summary>One parallel loop: its body, and counters that only its own items touch.</summary>
    /// <remarks>Each thread owns a contiguous share of the items and runs it front to back; a thread whose share is done
    /// takes the others' remaining items from their backs. Consecutive items are neighbouring bands of a matrix, so a
    /// thread reads one stream of weights through its share instead of starting a new stream at every item, as one shared
    /// counter dealt them out (items alternating between the threads). Decode steps of the mid-size model, 2 cores,
    /// alternating processes: int8 batch 1 1.90-1.91 → 1.78-1.79 ms, ten sequences 5.01-5.06 → 4.79-4.88 ms; f16 batch 1
    /// 3.66-3.72 → 3.52-3.57 ms.</remarks>
    private sealed class Loop
    {
        /// <summary>Longs per share: each on its own 64-byte line, so claims by different threads do not share a line.</summary>
        private const int ShareStride = 8;

        private readonly Action<int> body;
        private readonly long[] shares;
        private readonly int participants;
        public int Pending;

        /// <summary>1 once the caller sleeps until <see cref="Pending"/> reaches 0: whoever finishes the last item then wakes it.</summary>
        public int CallerAsleep;
        public Exception? Failure;

        public Loop(Action<int> body, int count, int participants)
        {
            this.body = body;
            this.participants = participants;
            Pending = count;
            shares = new long[participants * ShareStride];
            for (var p = 0; p < participants; p++)
                shares[p * ShareStride] = Pack((int)((long)count * p / participants), (int)((long)count * (p + 1) / participants));
        }

        /// <summary>A share's remaining items [front, end) as one word, so a claim from either end is one compare-exchange.</summary>
        private static long Pack(int front, int end) => (long)end << 32 | (uint)front;

        /// <summary>Runs this loop's items, share <paramref name="self"/> first, front to back, then the others' from their
        /// backs, until none are left; returns the mean Stopwatch ticks of the items it ran (0 for none).</summary>
        public long Drain(int self)
        {
            var started = Stopwatch.GetTimestamp();
            var ran = 0;
            while (true)
            {
                var i = Claim(self, fromFront: true);
                for (var other = 1; i < 0 && other < participants; other++) i = Claim((self + other) % participants, fromFront: false);
                if (i < 0) return ran == 0 ? 0 : (Stopwatch.GetTimestamp() - started) / ran;
                ran++;
                try
                {
                    body(i);
                }
                catch (Exception error)
                {
                    Interlocked.CompareExchange(ref Failure, error, null);
                }
                if (Interlocked.Decrement(ref Pending) == 0 && Volatile.Read(ref CallerAsleep) == 1) CallerWake.Set();
            }
        }

        /// <summary>Removes the first (or last) remaining item of a share and returns it; -1 when the share is empty.</summary>
        private int Claim(int share, bool fromFront)
        {
            ref var range = ref shares[share * ShareStride];
            while (true)
            {
                var seen = Volatile.Read(ref range);
                int front = (int)seen, end = (int)(seen >> 32);
                if (front >= end) return -1;
                var claimed = fromFront ? front : end - 1;
                var next = fromFront ? Pack(front + 1, end) : Pack(front, end - 1);
                if (Interlocked.CompareExchange(ref range, next, seen) == seen) return claimed;
            }
        }
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim wake = new(false, spinCount: 1);
        private readonly int index;
        private int asleep;

        public Worker(int index)
        {
            this.index = index;
            new Thread(Run) { IsBackground = true, Name = $"gptj-kernels-{index}" }.Start();
        }

        public void Wake()
        {
            if (Volatile.Read(ref asleep) == 1) wake.Set();
        }

        private void Run()
        {
            var seen = Volatile.Read(ref generation);
            Loop? drained = null;
            long patience = 0;
            while (true)
            {
                var idleSince = Stopwatch.GetTimestamp();
                var yieldedAt = idleSince;
                while (Volatile.Read(ref generation) == seen)
                {
                    var now = Stopwatch.GetTimestamp();
                    // Another thread's item of the loop this worker left taking longer than this worker's patience: sleep now.
                    var stalled = false;
                    if (drained != null && now - idleSince >= patience)
                    {
                        stalled = Volatile.Read(ref drained.Pending) != 0;
                        if (!stalled) drained = null; // nothing to watch, and the loop's body may be collected
                    }
                    if (now - idleSince < SpinTicks && !stalled)
                    {
                        if (now - yieldedAt > YieldTicks)
                        {
                            Thread.Yield();
                            yieldedAt = now;
                        }
                        Thread.SpinWait(20);
                        continue;
                    }
                    drained = null;
                    // Announce the sleep before the last look, so a loop published in between either is
                    // seen here or finds asleep set and wakes this worker.
                    Interlocked.Exchange(ref asleep, 1);
                    if (Volatile.Read(ref generation) == seen) wake.Wait();
                    wake.Reset();
                    Volatile.Write(ref asleep, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref generation);
                drained = Volatile.Read(ref current);
                if (drained != null) patience = Patience(drained.Drain(index));
            }
        }
    }
}
