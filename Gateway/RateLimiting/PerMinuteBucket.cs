using System.Threading.RateLimiting;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>A token bucket holding one minute's allowance that refills continuously (limit / 60 per second), as OpenAI's limits behave.</summary>
/// <remarks>
/// The built-in TokenBucketRateLimiter refills in steps and does not say when it will be full again, which the
/// x-ratelimit-reset-* headers need; this one computes both from its state. Every lease carries
/// <see cref="RateLimitMetadata.Remaining"/> and <see cref="RateLimitMetadata.Reset"/>; a refused one also
/// <see cref="MetadataName.RetryAfter"/>. No queueing: a request that does not fit is refused at once. A granted lease's
/// permits can be given back (<see cref="Refund"/>) for work that was never done.
/// </remarks>
public sealed class PerMinuteBucket(int limit, TimeProvider time) : RateLimiter
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    readonly Lock _lock = new();
    readonly double _perTick = (double)limit / (Window.TotalSeconds * time.TimestampFrequency);
    double _available = limit;
    long _updated = time.GetTimestamp();

    public int Limit => limit;

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, limit);
        lock (_lock)
        {
            Refill();
            var granted = _available >= permitCount;
            if (granted)
                _available -= permitCount;
            var retryAfter = granted ? TimeSpan.Zero : Until(permitCount);
            return new Lease(this, granted, permitCount, (long)Math.Floor(_available), Until(limit), retryAfter);
        }
    }

    /// <summary>Gives back the permits <paramref name="charge"/> took from a <see cref="PerMinuteBucket"/>, for work that was
    /// never done: once, and never above the limit. Returns a lease describing the bucket after the refund, or null when there
    /// was nothing to give back (a refused lease, one refunded already, one of another limiter).</summary>
    /// <remarks>A <see cref="PartitionedRateLimiter{TResource}"/> hands out its partitions' leases as they are, so a charge
    /// made through one comes back here.</remarks>
    public static RateLimitLease? Refund(RateLimitLease charge)
    {
        if (charge is not Lease lease || lease.TakePermits() is not (> 0 and var permits))
            return null;
        return lease.Bucket.Return(permits);
    }

    RateLimitLease Return(int permits)
    {
        lock (_lock)
        {
            Refill();
            _available = Math.Min(limit, _available + permits);
            // Full again: the idle time PartitionedRateLimiter measures starts now.
            if (_available >= limit)
                _updated = time.GetTimestamp();
            return new Lease(this, true, 0, (long)Math.Floor(_available), Until(limit), TimeSpan.Zero);
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    public override RateLimiterStatistics GetStatistics()
    {
        lock (_lock)
        {
            Refill();
            return new RateLimiterStatistics { CurrentAvailablePermits = (long)Math.Floor(_available) };
        }
    }

    /// <summary>How long the bucket has been full; PartitionedRateLimiter drops a partition idle long enough, which loses nothing.</summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                Refill();
                return _available >= limit ? time.GetElapsedTime(_updated) : null;
            }
        }
    }

    // Caller holds _lock. A full bucket keeps _updated at the moment it filled up, which IdleDuration measures from.
    void Refill()
    {
        if (_available >= limit)
            return;
        var now = time.GetTimestamp();
        var filled = _available + (now - _updated) * _perTick;
        if (filled >= limit)
        {
            _updated = now - (long)Math.Ceiling((filled - limit) / _perTick);
            _available = limit;
        }
        else
        {
            _updated = now;
            _available = filled;
        }
    }

    // Caller holds _lock, after Refill.
    TimeSpan Until(double permits) =>
        permits <= _available ? TimeSpan.Zero : TimeSpan.FromSeconds((permits - _available) / _perTick / time.TimestampFrequency);

    sealed class Lease(PerMinuteBucket bucket, bool granted, int permits, long remaining, TimeSpan reset, TimeSpan retryAfter) : RateLimitLease
    {
        int _refundable = granted ? permits : 0;

        public PerMinuteBucket Bucket => bucket;

        /// <summary>The permits this lease took and has not given back yet; zero after the first call.</summary>
        public int TakePermits() => Interlocked.Exchange(ref _refundable, 0);

        public override bool IsAcquired => granted;

        public override IEnumerable<string> MetadataNames =>
            granted ? [RateLimitMetadata.Remaining.Name, RateLimitMetadata.Reset.Name]
                : [RateLimitMetadata.Remaining.Name, RateLimitMetadata.Reset.Name, MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName switch
            {
                _ when metadataName == RateLimitMetadata.Remaining.Name => remaining,
                _ when metadataName == RateLimitMetadata.Reset.Name => reset,
                _ when metadataName == MetadataName.RetryAfter.Name && !granted => retryAfter,
                _ => null,
            };
            return metadata is not null;
        }
    }
}
