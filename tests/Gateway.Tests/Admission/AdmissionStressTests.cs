using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Tests.Admission;

/// <summary>Many threads entering, holding, completing, failing and leaving at once, on the real clock: every request
/// ends exactly once (admitted then released, refused, or cancelled), the slot cap holds for requests of one slot or several,
/// and the counters return to zero.</summary>
public sealed class AdmissionStressTests
{
    const int Threads = 16;
    const int RequestsPerThread = 400;
    const int Slots = 4;

    [Fact]
    public async Task Every_request_is_admitted_and_released_or_refused_exactly_once_and_the_counters_return_to_zero()
    {
        // A short bound and a seed that weighs an hour: a few thousand units fit under the bound, so small requests are
        // admitted and a large one only when nothing else is outstanding; the rest are refused.
        var queue = new AdmissionQueue(Options.Create(new AdmissionOptions
        {
            MaxQueueWait = TimeSpan.FromMilliseconds(20),
            InitialDrainRate = 100_000,
            DrainRateWindow = TimeSpan.FromHours(1),
            MaxConcurrentRequests = Slots,
            MaxQueuedRequests = 8,
        }), TimeProvider.System);
        int admitted = 0, refused = 0, cancelled = 0, holding = 0, mostHolding = 0;

        var threads = Enumerable.Range(0, Threads).Select(thread => Task.Run(async () =>
        {
            var random = new Random(thread);
            for (var i = 0; i < RequestsPerThread; i++)
            {
                // Alternating shapes: small and large requests, some whose caller leaves while they wait.
                var work = i % 2 == 0 ? 1 + random.Next(100) : 5_000 + random.Next(20_000);
                // One to more backend requests than there are slots (which then take them all).
                var backendRequests = 1 + random.Next(Slots + 1);
                var slots = Math.Min(backendRequests, Slots);
                using var leave = new CancellationTokenSource();
                if (i % 7 == 3)
                    leave.CancelAfter(random.Next(3));
                try
                {
                    using var admission = await queue.EnterAsync(work, backendRequests, leave.Token);
                    var now = Interlocked.Add(ref holding, slots);
                    InterlockedMax(ref mostHolding, now);
                    if (random.Next(2) == 0)
                        await Task.Yield();
                    else
                        Thread.SpinWait(random.Next(2_000));
                    Interlocked.Add(ref holding, -slots);
                    if (i % 3 != 0)
                        admission.Completed();
                    Interlocked.Increment(ref admitted);
                }
                catch (ApiException e) when (e.Kind == ApiErrorKind.Overloaded && e.RetryAfter is not null)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (OperationCanceledException) when (leave.IsCancellationRequested)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        })).ToArray();

        // Bounded: a lost wake-up shows as this wait failing, not as a test run that never ends.
        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(Threads * RequestsPerThread, admitted + refused + cancelled);
        Assert.True(admitted > 0 && refused > 0, $"admitted {admitted}, refused {refused}, cancelled {cancelled}");
        Assert.InRange(mostHolding, 1, Slots);
        Assert.Equal(0, queue.Running);
        Assert.Equal(0, queue.Waiting);
        Assert.Equal(0, queue.OutstandingWork);
    }

    static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
                return;
    }
}
