using System.ComponentModel.DataAnnotations;

namespace GptjAspire.Gateway.Admission;

/// <summary>How much generation work the Gateway lets in, bound from <c>Gateway:Admission</c> and checked at startup.</summary>
public sealed class AdmissionOptions
{
    public const string Section = "Gateway:Admission";

    /// <summary>The longest a request may be expected to take behind the work already admitted, its own included; a
    /// request expected to take longer is refused at once, and one still waiting for a slot after this long is refused then.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = $"{Section}:MaxQueueWait must be between {{1}} and {{2}}.")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Work units (sequences × positions, see <see cref="RequestWork"/>) per second the estimate starts from,
    /// until finished requests have measured the real rate; set low, so that a cold Gateway refuses rather than over-admits.</summary>
    [Range(1.0, 1e9, ErrorMessage = $"{Section}:InitialDrainRate must be between {{1}} and {{2}} work units per second.")]
    public double InitialDrainRate { get; set; } = 500;

    /// <summary>Time constant of the drain-rate estimate: measurements older than this (in busy time) weigh less than 1/e.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = $"{Section}:DrainRateWindow must be between {{1}} and {{2}}.")]
    public TimeSpan DrainRateWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Safety net whatever the estimate says: backend requests in flight at once, one per prompt of each admitted
    /// request (the unit the backend queues). At most the backend's queue (CpuBackend's <c>Generation:MaxQueuedRequests</c>,
    /// 64), so that a burst waits in the Gateway's queue instead of being refused behind it.</summary>
    [Range(1, 100_000, ErrorMessage = $"{Section}:MaxConcurrentRequests must be between {{1}} and {{2}}.")]
    public int MaxConcurrentRequests { get; set; } = 64;

    /// <summary>Safety net whatever the estimate says: admitted requests waiting for their <see cref="MaxConcurrentRequests"/> slots.</summary>
    [Range(0, 100_000, ErrorMessage = $"{Section}:MaxQueuedRequests must be between {{1}} and {{2}}.")]
    public int MaxQueuedRequests { get; set; } = 256;
}
