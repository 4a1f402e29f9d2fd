using GptjAspire.TritonClient.Generation;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>How the next token is chosen, with Hugging Face <c>generate()</c> meanings: top-k 0 and top-p 1 are off, and top-k 1 or temperature 0 mean greedy.</summary>
/// <param name="PresencePenalty">OpenAI's: subtracted from the logit of every token generated so far (0 = off).</param>
/// <param name="FrequencyPenalty">OpenAI's: subtracted once per time a token was generated so far (0 = off).</param>
/// <param name="MinNewTokens">New tokens before the end token may be chosen (HF's <c>min_new_tokens</c>, TensorRT-LLM's <c>min_length</c>).</param>
/// <param name="LogitBias">Added to the logits before anything else, one value per token of the vocabulary (TensorRT-LLM's <c>embedding_bias</c>).</param>
public sealed record SamplingParameters(
    int TopK = 0,
    float TopP = 1f,
    float Temperature = 1f,
    float RepetitionPenalty = 1f,
    ulong? Seed = null,
    float PresencePenalty = 0f,
    float FrequencyPenalty = 0f,
    int MinNewTokens = 0,
    float[]? LogitBias = null)
{
    /// <summary>True when the choice is the arg-max (HF greedy search) instead of a draw; a temperature too small to divide logits by counts as 0.</summary>
    public bool IsGreedy => TopK == 1 || Temperature < GenerationContract.GreedyTemperatureBelow;
}
