using System.Globalization;
using GptjAspire.Gptj.V1;
using GptjAspire.Tokenizer;
using GptjAspire.TritonClient.Generation;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>A checked generation request: normalized, tokenized prompt; token budget within the context window; sampling; stops,
/// as text and as the token ids of each stop on its own (the backend's <c>stop_words_list</c>).</summary>
public sealed record GenerationPlan(
    string RequestId,
    string Prompt,
    int[] PromptIds,
    int Samples,
    int MaxNewTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    IReadOnlyList<int[]> StopTokenIds,
    bool Echo,
    int? EndId,
    int MinNewTokens = 0,
    float[]? LogitBias = null)
{
    /// <summary>Validates <paramref name="request"/> against <paramref name="limits"/> and fits it into the context window; throws
    /// INVALID_ARGUMENT naming the field otherwise.</summary>
    public static GenerationPlan Create(GenerateRequest request, BpeTokenizer tokenizer, ModelLimits limits)
    {
        var promptField = request.PromptIds.Count > 0 ? PromptIdsField : PromptField;
        if (request.PromptIds.Count > 0 && request.Prompt.Length > 0)
            throw InvalidArgument.For(PromptIdsField, "Give the prompt as text ('prompt') or as token ids ('prompt_ids'), not both.");
        if (request.PromptIds.Count == 0 && request.Prompt.Length == 0)
            throw InvalidArgument.For(PromptField, "The prompt must not be empty.");
        var samples = request.N == 0 ? 1 : request.N;
        if (samples < 1 || samples > limits.MaxSamples)
            throw InvalidArgument.For("n", $"The number of samples must be between 1 and {limits.MaxSamples}; got {request.N}.");
        if (request.HasMaxNewTokens && request.MaxNewTokens < 1)
            throw InvalidArgument.For("max_new_tokens", $"The number of new tokens must be at least 1; got {request.MaxNewTokens}.");
        if (request.HasMaxTotalTokens && request.MaxTotalTokens < 1)
            throw InvalidArgument.For("max_total_tokens", $"The total length must be at least 1 token; got {request.MaxTotalTokens}.");
        var sampling = request.Sampling ?? new SamplingParameters();
        CheckSampling(sampling);
        sampling = GreedyBelowEpsilon(sampling);
        if (request.Stop.Count > limits.MaxStopSequences)
            throw InvalidArgument.For("stop", $"At most {limits.MaxStopSequences} stop sequences are allowed; got {request.Stop.Count}.");
        if (request.Stop.Any(s => s.Length == 0))
            throw InvalidArgument.For("stop", "Stop sequences must not be empty.");

        var (prompt, ids) = request.PromptIds.Count > 0 ? FromIds(request.PromptIds, tokenizer) : FromText(request.Prompt, tokenizer);
        var budget = Budget(request, ids.Length, limits.ContextLength, promptField);
        if (ids.Length > limits.MaxPromptTokens)
            throw InvalidArgument.For(promptField, $"The prompt is {ids.Length} tokens; at most {limits.MaxPromptTokens} are allowed.");
        if (request.HasMaxNewTokens && request.MaxNewTokens > limits.MaxNewTokens)
            throw InvalidArgument.For("max_new_tokens", $"The number of new tokens can be at most {limits.MaxNewTokens}; got {request.MaxNewTokens}.");

        var maxNewTokens = Math.Min(budget, limits.MaxNewTokens);
        if (request.HasMinNewTokens && (request.MinNewTokens < 0 || request.MinNewTokens > maxNewTokens))
            throw InvalidArgument.For("min_new_tokens", $"The minimum number of new tokens must be between 0 and the {maxNewTokens} new tokens this request may generate; got {request.MinNewTokens}.");
        CheckKvCache(limits, samples, ids.Length, maxNewTokens);
        var stops = request.Stop.Select(Nfc.Normalize).ToList();
        // A stop's tokens alone may differ from how the model spells it after other text; the backend stops on the ids
        // it is given, and the text filter catches every other spelling.
        var stopIds = stops.Select(s => Encode(tokenizer, s, "stop", "stop sequence")).ToList();
        var id = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : CheckedRequestId(request.RequestId);
        return new GenerationPlan(id, prompt, ids, samples, maxNewTokens, sampling, stops, stopIds, request.Echo, tokenizer.EndOfTextId, request.MinNewTokens,
            DenseLogitBias(sampling, tokenizer, limits.VocabSize ?? tokenizer.VocabSize));
    }

    /// <summary>Longest caller's request id: the Gateway's are under 50 characters, and the id goes into every log line and span of
    /// the request here and at the backend.</summary>
    public const int MaxRequestIdLength = 256;

    static string CheckedRequestId(string id)
    {
        if (id.Length > MaxRequestIdLength)
            throw InvalidArgument.For("request_id", $"The request id is {id.Length} characters; at most {MaxRequestIdLength} are allowed.");
        // A line break or escape sequence would let the id forge or garble the lines of a plain-text log.
        var control = id.AsSpan().IndexOfAnyInRange('\0', '\x1f');
        if (control < 0)
            control = id.AsSpan().IndexOfAnyInRange('\x7f', '\x9f');
        if (control >= 0)
            throw InvalidArgument.For("request_id", $"The request id must not contain control characters; U+{(int)id[control]:X4} is at position {control}.");
        return id;
    }

    /// <summary>The sparse bias as the backend's dense <c>embedding_bias</c>, one value per row of the model's embedding.</summary>
    static float[]? DenseLogitBias(SamplingParameters sampling, BpeTokenizer tokenizer, int vocabSize)
    {
        if (sampling.LogitBias.Count == 0)
            return null;
        var dense = new float[vocabSize];
        foreach (var (token, bias) in sampling.LogitBias)
        {
            if ((uint)token >= (uint)Math.Min(tokenizer.VocabSize, vocabSize))
                throw InvalidArgument.For("logit_bias", $"Token id {token} is outside the tokenizer's vocabulary [0, {Math.Min(tokenizer.VocabSize, vocabSize)}).");
            if (!float.IsFinite(bias))
                throw InvalidArgument.For("logit_bias", $"The bias of token {token} must be a finite number.");
            dense[token] = bias;
        }
        return dense;
    }

    const string PromptField = "prompt";
    const string PromptIdsField = "prompt_ids";

    static (string Prompt, int[] Ids) FromText(string text, BpeTokenizer tokenizer)
    {
        // Vietnamese typed on some systems arrives decomposed (NFD); the vocabulary was learnt on NFC text.
        var prompt = Nfc.Normalize(text);
        return (prompt, Encode(tokenizer, prompt, PromptField, "prompt"));
    }

    /// <summary>Ids the tokenizer knows go to the model as they are; their text is what echo returns.</summary>
    static (string Prompt, int[] Ids) FromIds(IReadOnlyList<int> promptIds, BpeTokenizer tokenizer)
    {
        var ids = promptIds.ToArray();
        for (var i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)tokenizer.VocabSize)
                throw InvalidArgument.For(PromptIdsField, $"Token id {ids[i]} at position {i} is outside the tokenizer's vocabulary [0, {tokenizer.VocabSize}).");
        return (tokenizer.Decode(ids), ids);
    }

    static int[] Encode(BpeTokenizer tokenizer, string text, string field, string what)
    {
        try
        {
            return tokenizer.Encode(text);
        }
        catch (InvalidTextException e)
        {
            throw InvalidArgument.For(field, $"The {what} is not valid text at character {e.Position}: {e.Message}");
        }
    }

    // A request whose KV cache is larger than the backend's whole cache would be refused as RESOURCE_EXHAUSTED (a retryable
    // 429) although retrying never helps. A backend whose samples each hold the prompt (TensorRT-LLM without block reuse)
    // reserves samples × (prompt + new tokens) positions; one whose samples share it (CpuBackend's forks, stated as
    // kv_cache_shares_prompt) reserves prompt + samples × new tokens.
    static void CheckKvCache(ModelLimits limits, int samples, int promptTokens, int maxNewTokens)
    {
        if (limits.KvCacheTokens is not { } capacity)
            return;
        var perSample = (long)promptTokens + maxNewTokens;
        if (perSample > capacity)
            throw InvalidArgument.For("max_new_tokens",
                $"The prompt ({promptTokens} tokens) plus {maxNewTokens} new tokens needs {perSample} positions of the model's KV cache, which holds {capacity}; ask for fewer new tokens.");
        if (limits.KvCacheSharesPrompt)
        {
            var shared = promptTokens + (long)samples * maxNewTokens;
            if (shared > capacity)
                throw InvalidArgument.For("n",
                    $"{samples} samples of {maxNewTokens} new tokens after their shared prompt of {promptTokens} need {shared} positions of the model's KV cache, which holds {capacity}; ask for at most {(capacity - promptTokens) / maxNewTokens} samples or fewer new tokens.");
            return;
        }
        if (samples * perSample > capacity)
            throw InvalidArgument.For("n",
                $"{samples} samples of {perSample} positions (prompt plus new tokens) need {samples * perSample} positions of the model's KV cache, which holds {capacity}; ask for at most {capacity / perSample} samples or fewer new tokens.");
    }

    // prompt + new tokens must fit the context window (and max_total_tokens, Hugging Face's max_length, when given).
    static int Budget(GenerateRequest request, int promptTokens, int contextLength, string promptField)
    {
        // The tighter cap is the one a refusal names: a prompt over both is told the limit it has to fit.
        if (request.HasMaxTotalTokens && request.MaxTotalTokens < contextLength && promptTokens >= request.MaxTotalTokens)
            throw InvalidArgument.For(promptField,
                $"The prompt is {promptTokens} tokens; the total length is capped at {request.MaxTotalTokens} tokens, which leaves no room for new tokens.",
                ErrorReason.ContextLengthExceeded);
        if (promptTokens >= contextLength)
            throw InvalidArgument.For(promptField,
                $"The prompt is {promptTokens} tokens; the model's context is {contextLength} tokens, which leaves no room for new tokens.",
                ErrorReason.ContextLengthExceeded);
        var room = contextLength - promptTokens;
        if (request.HasMaxTotalTokens)
            room = Math.Min(room, request.MaxTotalTokens - promptTokens);
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
        if (sampling.HasPresencePenalty && !float.IsFinite(sampling.PresencePenalty))
            throw InvalidArgument.For("presence_penalty", "The presence penalty must be a finite number (0 = off).");
        if (sampling.HasFrequencyPenalty && !float.IsFinite(sampling.FrequencyPenalty))
            throw InvalidArgument.For("frequency_penalty", "The frequency penalty must be a finite number (0 = off).");
    }
}
