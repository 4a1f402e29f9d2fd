using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

public class KvCacheBudgetTests
{
    [Fact]
    public void Reservations_that_do_not_fit_are_refused_and_released_bytes_can_be_reserved_again()
    {
        var budget = new KvCacheBudget(100);

        Assert.True(budget.TryReserve(60));
        Assert.False(budget.TryReserve(41));
        Assert.True(budget.TryReserve(40));
        budget.Release(60);
        Assert.True(budget.TryReserve(60));

        Assert.Equal(100, budget.ReservedBytes);
        Assert.Equal(100, budget.PeakBytes);
        Assert.Throws<InvalidOperationException>(() => budget.Release(101));
    }

    [Fact]
    public void Threads_reserving_and_releasing_alternating_sizes_never_exceed_the_capacity_and_end_at_zero()
    {
        const long capacity = 1_000;
        var budget = new KvCacheBudget(capacity);
        var overshoot = 0;
        long granted = 0;
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                long size = (i + t) % 3 == 0 ? 700 : 1 + (i * 37 + t) % 250; // big and small shapes alternate
                if (!budget.TryReserve(size))
                    continue;
                Interlocked.Increment(ref granted);
                if (budget.ReservedBytes > capacity)
                    Interlocked.Increment(ref overshoot);
                budget.Release(size);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a thread never finished"));

        Assert.Equal(0, overshoot);
        Assert.Equal(0, budget.ReservedBytes);
        Assert.InRange(budget.PeakBytes, 700, capacity);
        Assert.True(granted > 0);
    }

    [Fact]
    public void Default_budget_is_what_the_process_may_use_minus_the_weights_and_refuses_weights_that_leave_nothing()
    {
        var whole = KvCacheBudget.Default(0);
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

        Assert.InRange(whole, 1, available);
        Assert.InRange(KvCacheBudget.Default(whole / 2), 1, whole - 1);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => KvCacheBudget.Default(available));
        Assert.Equal("Generation:KvCacheBudgetBytes", error.ParamName);
    }
}
