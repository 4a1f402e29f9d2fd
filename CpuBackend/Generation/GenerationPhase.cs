namespace GptjAspire.CpuBackend.Generation;

/// <summary>What the generation loop is doing, as published for the liveness check.</summary>
public enum GenerationPhase
{
    /// <summary>Nothing queued or running: waiting for a request.</summary>
    Idle,

    /// <summary>Prefilling a prompt chunk (and, after the last chunk, sampling the first tokens).</summary>
    Prefill,

    /// <summary>One decode over every running sequence.</summary>
    Decode,

    /// <summary>Sampling one token per sequence and handing the steps to their streams.</summary>
    Sample,
}
