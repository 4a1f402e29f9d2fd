namespace GptjAspire.CpuBackend.Generation;

/// <summary>A token generated for one sequence of a request; a token whose <see cref="Finish"/> is not None is that sequence's last.</summary>
public readonly record struct SequenceToken(int Sequence, int TokenId, float LogProb, FinishReason Finish);

/// <summary>The tokens one decode step produced for a request, one per sequence still running at that step.</summary>
public sealed record GenerationStep(IReadOnlyList<SequenceToken> Tokens);
