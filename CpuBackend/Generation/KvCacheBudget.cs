using System.Globalization;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>The bytes of KV cache that admitted requests have reserved, against a fixed capacity; safe to use from any thread.</summary>
/// <remarks>A request reserves what its caches will hold (its prompt once, max new tokens for each of its sequences) when it
/// joins the batch and releases it once when its stream ends, so the caches that exist never need more than the capacity.</remarks>
public sealed class KvCacheBudget
{
    /// <summary>Share of the memory left beside the weights that the KV cache may take; the rest is activations, logits, buffers and the runtime.</summary>
    private const double CacheShare = 0.9;

    private long _reserved;
    private long _peak;

    public KvCacheBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        CapacityBytes = capacityBytes;
    }

    public long CapacityBytes { get; }

    public long ReservedBytes => Volatile.Read(ref _reserved);

    /// <summary>The most ever reserved at once.</summary>
    public long PeakBytes => Volatile.Read(ref _peak);

    /// <summary>Reserves <paramref name="bytes"/> if they fit beside what is already reserved.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var reserved = Volatile.Read(ref _reserved);
        while (true)
        {
            if (bytes > CapacityBytes - reserved)
                return false;
            var seen = Interlocked.CompareExchange(ref _reserved, reserved + bytes, reserved);
            if (seen == reserved)
                break;
            reserved = seen;
        }
        var now = reserved + bytes;
        for (var peak = Volatile.Read(ref _peak); now > peak; peak = Interlocked.CompareExchange(ref _peak, now, peak)) { }
        return true;
    }

    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (Interlocked.Add(ref _reserved, -bytes) < 0)
            throw new InvalidOperationException($"Released {bytes} bytes of KV cache more than were reserved.");
    }

    /// <summary>The budget when none is configured: 90% of what the process may use (the cgroup limit or the GC's view of available memory, the smaller) minus the weights.</summary>
    public static long Default(long weightBytes)
    {
        var limit = ProcessMemoryLimit();
        var left = limit - weightBytes;
        if (left <= 0)
            throw new ArgumentOutOfRangeException($"{GenerationOptions.SectionName}:KvCacheBudgetBytes", weightBytes,
                $"The weights take {weightBytes:N0} bytes of the {limit:N0} the process may use, leaving none for the KV cache; set {GenerationOptions.SectionName}:KvCacheBudgetBytes or raise the memory limit.");
        return (long)(left * CacheShare);
    }

    /// <summary>The memory limit of this process: cgroup v2's memory.max when set, else (and never above) the GC's total available memory, which already honours a container limit or GCHeapHardLimit.</summary>
    private static long ProcessMemoryLimit()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        try
        {
            var text = File.ReadAllText("/sys/fs/cgroup/memory.max").Trim();
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var cgroup)) // "max" means no limit
                return Math.Min(cgroup, available);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // No cgroup v2 file (not Linux, or cgroup v1): the GC's figure is all there is.
        }
        return available;
    }
}
