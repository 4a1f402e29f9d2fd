namespace GptjAspire.CpuBackend.Generation;

/// <summary>One generation request: a tokenized prompt continued by <see cref="NumSequences"/> independent samples.</summary>
public sealed record GenerationRequest(
    string Id,
    int[] PromptIds,
    int MaxNewTokens,
    int NumSequences,
    SamplingParameters Sampling,
    int? EndId,
    IReadOnlyList<int[]> StopWords,
    IReadOnlyList<int[]> BadWords);
