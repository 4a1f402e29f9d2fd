using System.Threading.RateLimiting;
using GptjAspire.Gateway.RateLimiting;

namespace GptjAspire.Gateway.Tests.RateLimiting;

/// <summary>The bucket's accounting: a minute's allowance, continuous refill, exact remaining/reset/retry-after, no lost or double charges under contention.</summary>
public sealed class PerMinuteBucketTests
{
    static T Metadata<T>(RateLimitLease lease, MetadataName<T> name)
    {
        Assert.True(lease.TryGetMetadata(name, out var value));
        return value!;
    }

    [Fact]
    public void Full_bucket_grants_its_limit_then_refuses_with_the_wait_for_the_missing_permits()
    {
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(60, time);

        using var granted = bucket.AttemptAcquire(50);
        using var refused = bucket.AttemptAcquire(20);

        Assert.True(granted.IsAcquired);
        Assert.Equal(10, Metadata(granted, RateLimitMetadata.Remaining));
        Assert.Equal(TimeSpan.FromSeconds(50), Metadata(granted, RateLimitMetadata.Reset));
        Assert.False(refused.IsAcquired);
        Assert.Equal(TimeSpan.FromSeconds(10), Metadata(refused, MetadataName.RetryAfter));
        Assert.Equal(10, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    [Fact]
    public void A_refund_gives_a_granted_leases_permits_back_once_and_never_above_the_limit()
    {
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(60, time);
        using var charge = bucket.AttemptAcquire(50);
        time.Advance(TimeSpan.FromSeconds(30)); // 30 of the 50 refilled meanwhile

        using var after = PerMinuteBucket.Refund(charge);
        using var again = PerMinuteBucket.Refund(charge);

        Assert.Equal(60, Metadata(after!, RateLimitMetadata.Remaining));
        Assert.Null(again);
        Assert.Equal(60, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    [Fact]
    public void A_refused_lease_has_nothing_to_refund()
    {
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(60, time);
        bucket.AttemptAcquire(60).Dispose();
        using var refused = bucket.AttemptAcquire(10);

        Assert.Null(PerMinuteBucket.Refund(refused));
        Assert.Equal(0, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    [Fact]
    public void Refill_is_continuous_and_stops_at_the_limit()
    {
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(120, time);
        bucket.AttemptAcquire(120).Dispose();

        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(30, bucket.GetStatistics()!.CurrentAvailablePermits);
        Assert.Null(bucket.IdleDuration);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(120, bucket.GetStatistics()!.CurrentAvailablePermits);
        // Emptied at 0 s, full again at 60 s, now at 315 s.
        Assert.Equal(TimeSpan.FromSeconds(315 - 60), bucket.IdleDuration);
    }

    [Fact]
    public void Zero_permits_reads_the_bucket_without_charging()
    {
        using var bucket = new PerMinuteBucket(5, new ManualTime());

        using var lease = bucket.AttemptAcquire(0);

        Assert.True(lease.IsAcquired);
        Assert.Equal(5, Metadata(lease, RateLimitMetadata.Remaining));
        Assert.Equal(TimeSpan.Zero, Metadata(lease, RateLimitMetadata.Reset));
    }

    [Fact]
    public async Task Concurrent_callers_get_exactly_the_limit_between_them()
    {
        const int limit = 10_000;
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(limit, time);
        var granted = 0;
        var refused = 0;

        // 8 threads race for 3 permits at a time, with the clock frozen: exactly floor(limit / 3) grants, no more, no fewer.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                using var lease = bucket.AttemptAcquire(3);
                Interlocked.Increment(ref lease.IsAcquired ? ref granted : ref refused);
            }
        })));

        Assert.Equal(limit / 3, granted);
        Assert.Equal(8 * 2_000 - limit / 3, refused);
        Assert.Equal(limit % 3, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    [Fact]
    public async Task Concurrent_charges_while_the_clock_moves_never_grant_more_than_limit_plus_refill()
    {
        const int limit = 600;
        var time = new ManualTime();
        using var bucket = new PerMinuteBucket(limit, time);
        var granted = 0;

        var callers = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                using var lease = bucket.AttemptAcquire(1);
                if (lease.IsAcquired)
                    Interlocked.Increment(ref granted);
            }
        })).ToArray();
        // 100 ms steps for 30 s of clock: 300 more permits at 10 per second.
        for (var step = 0; step < 300; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }
        await Task.WhenAll(callers);

        // Never more than the allowance plus the refill; at most one permit short, from rounding the refill's fractions down.
        var left = bucket.GetStatistics()!.CurrentAvailablePermits;
        Assert.InRange(granted + left, limit + 299, limit + 300);
    }
}
