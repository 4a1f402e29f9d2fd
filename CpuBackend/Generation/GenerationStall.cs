namespace GptjAspire.CpuBackend.Generation;

/// <summary>The generation loop has work but has not finished a step for longer than <see cref="GenerationOptions.StallTimeout"/>, or it died.</summary>
/// <param name="Step">The step it is stuck in (steps are counted from 1 since start).</param>
/// <param name="Phase">What it was doing when it last reported.</param>
/// <param name="Duration">How long since it last reported.</param>
/// <param name="LoopFailed">True when the loop stopped on an unexpected error rather than hanging.</param>
public sealed record GenerationStall(long Step, GenerationPhase Phase, TimeSpan Duration, bool LoopFailed)
{
    public string Describe() => LoopFailed
        ? $"The generation loop stopped on an unexpected error in step {Step} (phase {Phase})."
        : $"The generation loop has work pending but has made no progress for {Duration.TotalSeconds:F0} s: stuck in step {Step} (phase {Phase}).";
}
