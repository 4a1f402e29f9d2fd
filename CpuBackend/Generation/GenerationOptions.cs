namespace GptjAspire.CpuBackend.Generation;

/// <summary>Limits of the generation scheduler, bound from the configuration section <c>Generation</c>.</summary>
public sealed class GenerationOptions
{
    public const string SectionName = "Generation";

    /// <summary>Requests allowed to wait for a place in the batch; one more is refused with <see cref="QueueFullException"/>.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>Sequences decoded together in one step (a request with n samples takes n places).</summary>
    public int MaxBatchSequences { get; set; } = 16;
}
