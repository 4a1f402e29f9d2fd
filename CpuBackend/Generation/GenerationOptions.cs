using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Limits of the generation scheduler, bound from the configuration section <c>Generation</c>.</summary>
public sealed class GenerationOptions
{
    public const string SectionName = "Generation";

    /// <summary>Requests allowed to wait for a place in the batch; one more is refused with <see cref="QueueFullException"/>.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>Sequences decoded together in one step (a request with n samples takes n places).</summary>
    public int MaxBatchSequences { get; set; } = 16;

    /// <summary>Bytes of KV cache the running requests may reserve together; unset derives it from the memory the process may use (<see cref="KvCacheBudget.Default"/>).</summary>
    public long? KvCacheBudgetBytes { get; set; }

    /// <summary>Element type of the KV cache: F32, or F16 at half the memory (attention still computes in f32).</summary>
    public KvCacheType KvCacheType { get; set; } = KvCacheType.F32;

    /// <summary>Prompt tokens prefilled per step at most, so running streams get a decode step between two chunks; 0 prefills each prompt whole.</summary>
    public int PrefillChunkTokens { get; set; } = 256;

    /// <summary>How long the loop may go without finishing a step while work is pending before it counts as wedged (liveness fails).</summary>
    /// <remarks>Must exceed the slowest legitimate step: a prefill chunk of <see cref="PrefillChunkTokens"/> plus a full decode step.</remarks>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
