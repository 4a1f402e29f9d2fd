using GptjAspire.TritonClient.Generation;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>How the next token is chosen, with Hugging Face <c>generate()</c> meanings: top-k 0 and top-p 1 are off, and top-k 1 or temperature 0 mean greedy.</summary>
public sealed record SamplingParameters(
    int TopK = 0,
    float TopP = 1f,
    float Temperature = 1f,
    float RepetitionPenalty = 1f,
    ulong? Seed = null)
{
    /// <summary>True when the choice is the arg-max (HF greedy search) instead of a draw; a temperature too small to divide logits by counts as 0.</summary>
    public bool IsGreedy => TopK == 1 || Temperature < GenerationContract.GreedyTemperatureBelow;
}
