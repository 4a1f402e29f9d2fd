using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.TritonClient.Generation;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Chooses one sequence's next token from the model's logits, with Hugging Face <c>generate()</c> semantics and a seeded random stream of its own.</summary>
/// <remarks>
/// Order as in HF, after the logit bias (TensorRT-LLM's embedding bias, added first): processors (repetition penalty, OpenAI's presence and frequency penalties as vLLM applies them, the
/// minimum length, bad words), then for sampling the warpers (temperature, top-k,
/// top-p), softmax and one draw. Greedy (top-k 1 or temperature 0) is HF greedy search: the arg-max of the processed
/// logits, no warpers. The log-probability is the log-softmax of the scores the choice was made from, which is what
/// HF's <c>compute_transition_scores(normalize_logits=True)</c> reports. Kept apart from the model, as llama2.c does.
/// </remarks>
public sealed class Sampler
{
    private readonly SamplingParameters _parameters;
    private readonly IReadOnlyList<int[]> _badWords;
    private readonly SequenceRandom _random;
    private readonly int _promptLength;
    private readonly int? _endId;

    /// <param name="sequence">Index of the sample within its request: samples of one request draw from different streams.</param>
    /// <param name="promptLength">How much of the context the prompt is: the presence and frequency penalties and the minimum
    /// length count only the tokens after it.</param>
    /// <param name="endId">The token that ends a sequence, held back until <see cref="SamplingParameters.MinNewTokens"/> are generated.</param>
    public Sampler(SamplingParameters parameters, IReadOnlyList<int[]> badWords, ulong seed, int sequence, int promptLength = 0, int? endId = null)
    {
        ThrowIfInvalid(parameters);
        foreach (var word in badWords)
        {
            if (word.Length == 0)
                throw new ArgumentException("A bad word has no tokens.", nameof(badWords));
        }
        _parameters = parameters;
        _badWords = badWords;
        _random = new SequenceRandom(seed, sequence);
        _promptLength = promptLength;
        _endId = endId;
    }

    /// <summary>Rewrites <paramref name="logits"/> in place into the scores HF would draw from (or take the arg-max of); removed tokens become -inf.</summary>
    /// <param name="context">The prompt followed by the tokens generated so far (what HF passes as <c>input_ids</c>).</param>
    public void Process(Span<float> logits, ReadOnlySpan<int> context)
    {
        if (_parameters.LogitBias is { } bias)
            TensorPrimitives.Add(logits, bias, logits);
        if (_parameters.RepetitionPenalty != 1f)
            LogitsProcessors.PenalizeRepetition(logits, context, _parameters.RepetitionPenalty);
        var generated = context[Math.Min(_promptLength, context.Length)..];
        if (_parameters.PresencePenalty != 0f || _parameters.FrequencyPenalty != 0f)
            LogitsProcessors.PenalizePresenceAndFrequency(logits, generated, _parameters.PresencePenalty, _parameters.FrequencyPenalty);
        if (generated.Length < _parameters.MinNewTokens && _endId is { } end && (uint)end < (uint)logits.Length)
            logits[end] = float.NegativeInfinity; // HF's MinNewTokensLengthLogitsProcessor
        if (_badWords.Count > 0)
            LogitsProcessors.BanBadWords(logits, context, _badWords);
        if (logits.Contains(float.PositiveInfinity))
            LogitsProcessors.KeepOverflowed(logits);
        if (_parameters.IsGreedy)
            return;
        if (_parameters.Temperature != 1f)
            LogitsProcessors.ApplyTemperature(logits, _parameters.Temperature);
        if (_parameters.TopK > 0)
            LogitsProcessors.KeepTopK(logits, _parameters.TopK);
        if (_parameters.TopP < 1f)
            LogitsProcessors.KeepTopP(logits, _parameters.TopP);
    }

    /// <summary>Processes <paramref name="logits"/> (overwriting them) and chooses the next token.</summary>
    public SampledToken Next(Span<float> logits, ReadOnlySpan<int> context)
    {
        Process(logits, context);
        using (var gathered = FiniteLogits.Gather(logits))
        {
            if (gathered.Count == 0)
                throw new InvalidOperationException("Every token of the vocabulary is banned by bad_words.");
            if (gathered.Count > 0)
            {
                // Top-k left few tokens: maximum, softmax and draw over them, in token order, as over the whole vocabulary.
                var gatheredProbabilities = gathered.Probabilities(out var gatheredMax, out var gatheredSum);
                var token = gathered.Tokens[_parameters.IsGreedy ? TensorPrimitives.IndexOfMax(gathered.Values) : Draw(gatheredProbabilities)];
                return new SampledToken(token, (float)((double)logits[token] - gatheredMax - Math.Log(gatheredSum)));
            }
        }
        // More tokens left than are worth gathering, so the maximum is finite.
        var max = TensorPrimitives.Max(logits);
        var scratch = ArrayPool<float>.Shared.Rent(logits.Length);
        var probabilities = scratch.AsSpan(0, logits.Length);
        var sum = Kernels.Softmax(logits, max, probabilities);
        var chosen = _parameters.IsGreedy ? TensorPrimitives.IndexOfMax(logits) : Draw(probabilities);
        var logProb = (double)logits[chosen] - max - Math.Log(sum);
        ArrayPool<float>.Shared.Return(scratch);
        return new SampledToken(chosen, (float)logProb);
    }

    /// <summary>Throws an <see cref="InvalidGenerationRequestException"/> naming the first invalid parameter.</summary>
    public static void ThrowIfInvalid(SamplingParameters parameters)
    {
        if (parameters.TopK < 0)
            throw new InvalidGenerationRequestException("Sampling.TopK", $"Top-k must be 0 (off) or positive; got {parameters.TopK}.");
        if (!(parameters.TopP >= 0f && parameters.TopP <= 1f))
            throw new InvalidGenerationRequestException("Sampling.TopP", $"Top-p must be within [0, 1] (1 = off); got {parameters.TopP.ToString(CultureInfo.InvariantCulture)}.");
        if (!(parameters.Temperature >= 0f) || float.IsPositiveInfinity(parameters.Temperature))
            throw new InvalidGenerationRequestException("Sampling.Temperature", $"The temperature must be finite and not negative (0 = greedy); got {parameters.Temperature.ToString(CultureInfo.InvariantCulture)}.");
        if (!(parameters.RepetitionPenalty >= GenerationContract.MinRepetitionPenalty) || float.IsPositiveInfinity(parameters.RepetitionPenalty))
            throw new InvalidGenerationRequestException("Sampling.RepetitionPenalty", string.Create(CultureInfo.InvariantCulture,
                $"The repetition penalty must be finite and at least {GenerationContract.MinRepetitionPenalty} (1 = off); got {parameters.RepetitionPenalty}."));
        if (!float.IsFinite(parameters.PresencePenalty))
            throw new InvalidGenerationRequestException("Sampling.PresencePenalty", string.Create(CultureInfo.InvariantCulture, $"The presence penalty must be finite (0 = off); got {parameters.PresencePenalty}."));
        if (!float.IsFinite(parameters.FrequencyPenalty))
            throw new InvalidGenerationRequestException("Sampling.FrequencyPenalty", string.Create(CultureInfo.InvariantCulture, $"The frequency penalty must be finite (0 = off); got {parameters.FrequencyPenalty}."));
        if (parameters.LogitBias is { } bias && !TensorPrimitives.IsFiniteAll(bias))
            throw new InvalidGenerationRequestException("Sampling.LogitBias", "Every logit bias must be a finite number.");
        if (parameters.MinNewTokens < 0)
            throw new InvalidGenerationRequestException("Sampling.MinNewTokens", $"The minimum number of new tokens must be at least 0; got {parameters.MinNewTokens}.");
    }

    /// <summary>Inverse-CDF draw over the tokens in ascending order: the index of the first whose running probability exceeds u.</summary>
    private int Draw(ReadOnlySpan<float> probabilities)
    {
        var target = _random.NextDouble();
        var running = 0.0;
        var last = 0;
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (probabilities[i] == 0f)
                continue;
            running += probabilities[i];
            last = i;
            if (running > target)
                return i;
        }
        return last; // rounding left the running sum just below u
    }
}
