using System.Globalization;
using System.Text;
using GptjAspire.Gptj.V1;
using GptjAspire.Tokenizer;
using GptjAspire.TritonClient.Generation;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>A checked generation request: normalized, tokenized prompt; token budget within the context window; sampling; stops.</summary>
public sealed record GenerationPlan(
    string RequestId,
    string Prompt,
    int[] PromptIds,
    int Samples,
    int MaxNewTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    bool Echo,
    int? EndId)
{
    /// <summary>Most stop sequences one request may carry.</summary>
    public const int MaxStopSequences = 16;

    /// <summary>Validates <paramref name="request"/> and fits it into <paramref name="contextLength"/> tokens; throws INVALID_ARGUMENT naming the field otherwise.</summary>
    public static GenerationPlan Create(GenerateRequest request, BpeTokenizer tokenizer, int contextLength, int maxSamples)
    {
        if (string.IsNullOrEmpty(request.Prompt))
            throw InvalidArgument.For("prompt", "The prompt must not be empty.");
        var samples = request.N == 0 ? 1 : request.N;
        if (samples < 1 || samples > maxSamples)
            throw InvalidArgument.For("n", $"The number of samples must be between 1 and {maxSamples}; got {request.N}.");
        if (request.HasMaxNewTokens && request.MaxNewTokens < 1)
            throw InvalidArgument.For("max_new_tokens", $"The number of new tokens must be at least 1; got {request.MaxNewTokens}.");
        if (request.HasMaxTotalTokens && request.MaxTotalTokens < 1)
            throw InvalidArgument.For("max_total_tokens", $"The total length must be at least 1 token; got {request.MaxTotalTokens}.");
        var sampling = request.Sampling ?? new SamplingParameters();
        CheckSampling(sampling);
        sampling = GreedyBelowEpsilon(sampling);
        if (request.Stop.Count > MaxStopSequences)
            throw InvalidArgument.For("stop", $"At most {MaxStopSequences} stop sequences are allowed; got {request.Stop.Count}.");
        if (request.Stop.Any(s => s.Length == 0))
            throw InvalidArgument.For("stop", "Stop sequences must not be empty.");

        // Vietnamese typed on some systems arrives decomposed (NFD); the vocabulary was learnt on NFC text.
        var prompt = request.Prompt.Normalize(NormalizationForm.FormC);
        int[] ids;
        try
        {
            ids = tokenizer.Encode(prompt);
        }
        catch (InvalidTextException e)
        {
            throw InvalidArgument.For("prompt", $"The prompt is not valid text at character {e.Position}: {e.Message}");
        }

        var maxNewTokens = Budget(request, ids.Length, contextLength);
        var stops = request.Stop.Select(s => s.Normalize(NormalizationForm.FormC)).ToList();
        var id = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId;
        return new GenerationPlan(id, prompt, ids, samples, maxNewTokens, sampling, stops, request.Echo, tokenizer.EndOfTextId);
    }

    // prompt + new tokens must fit the context window (and max_total_tokens, Hugging Face's max_length, when given).
    static int Budget(GenerateRequest request, int promptTokens, int contextLength)
    {
        if (promptTokens >= contextLength)
            throw InvalidArgument.For("prompt",
                $"The prompt is {promptTokens} tokens; the model's context is {contextLength} tokens, which leaves no room for new tokens.",
                ErrorReason.ContextLengthExceeded);
        var room = contextLength - promptTokens;
        if (request.HasMaxTotalTokens)
        {
            if (promptTokens >= request.MaxTotalTokens)
                throw InvalidArgument.For("prompt",
                    $"The prompt is {promptTokens} tokens; the total length is capped at {request.MaxTotalTokens} tokens, which leaves no room for new tokens.",
                    ErrorReason.ContextLengthExceeded);
            room = Math.Min(room, request.MaxTotalTokens - promptTokens);
        }
        if (!request.HasMaxNewTokens)
            return room;
        if (request.MaxNewTokens > contextLength - promptTokens)
            throw InvalidArgument.For("max_new_tokens", string.Create(CultureInfo.InvariantCulture,
                $"The prompt ({promptTokens} tokens) plus {request.MaxNewTokens} new tokens exceeds the model's context of {contextLength} tokens; at most {contextLength - promptTokens} new tokens fit after this prompt."),
                ErrorReason.ContextLengthExceeded);
        return Math.Min(room, request.MaxNewTokens);
    }

    // A temperature of (nearly) 0 is greedy decoding; on the tensor contract that is runtime_top_k 1 with no
    // temperature, which every backend (TensorRT-LLM included) reads as arg-max instead of dividing by ~0.
    static SamplingParameters GreedyBelowEpsilon(SamplingParameters sampling)
    {
        if (!sampling.HasTemperature || sampling.Temperature >= GenerationContract.GreedyTemperatureBelow)
            return sampling;
        var greedy = sampling.Clone();
        greedy.ClearTemperature();
        greedy.TopK = 1;
        return greedy;
    }

    static void CheckSampling(SamplingParameters sampling)
    {
        if (sampling.TopK < 0)
            throw InvalidArgument.For("top_k", $"Top-k must be 0 (off) or positive; got {sampling.TopK}.");
        if (sampling.HasTopP && !(sampling.TopP > 0 && sampling.TopP <= 1))
            throw InvalidArgument.For("top_p", $"Top-p must be in (0, 1]; got {sampling.TopP.ToString(CultureInfo.InvariantCulture)}.");
        if (sampling.HasTemperature && !(sampling.Temperature >= 0 && float.IsFinite(sampling.Temperature)))
            throw InvalidArgument.For("temperature",
                $"The temperature must be a finite number, at least 0 (0 = greedy); got {sampling.Temperature.ToString(CultureInfo.InvariantCulture)}.");
        if (sampling.HasRepetitionPenalty && !(sampling.RepetitionPenalty >= GenerationContract.MinRepetitionPenalty && float.IsFinite(sampling.RepetitionPenalty)))
            throw InvalidArgument.For("repetition_penalty", string.Create(CultureInfo.InvariantCulture,
                $"The repetition penalty must be a finite number, at least {GenerationContract.MinRepetitionPenalty} (1 = off); got {sampling.RepetitionPenalty}."));
    }
}
