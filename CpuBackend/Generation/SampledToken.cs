namespace GptjAspire.CpuBackend.Generation;

/// <summary>The token a <see cref="Sampler"/> chose and its log-probability under the distribution it was chosen from.</summary>
public readonly record struct SampledToken(int TokenId, float LogProb);
