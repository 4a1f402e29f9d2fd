using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Hugging Face's logits processors and warpers for <c>generate()</c> (transformers generation/logits_process.py), each rewriting one sequence's logits in place; a removed token becomes -inf.</summary>
internal static class LogitsProcessors
{
    /// <summary>RepetitionPenaltyLogitsProcessor: every token of the context has a positive logit divided by the penalty and a negative one multiplied.</summary>
    public static void PenalizeRepetition(Span<float> logits, ReadOnlySpan<int> context, float penalty)
    {
        // HF gathers all scores first and scatters afterwards, so a token seen twice is penalised once.
        var original = ArrayPool<float>.Shared.Rent(context.Length);
        for (var i = 0; i < context.Length; i++)
            original[i] = logits[context[i]];
        for (var i = 0; i < context.Length; i++)
        {
            var score = original[i];
            logits[context[i]] = score < 0 ? score * penalty : score / penalty;
        }
        ArrayPool<float>.Shared.Return(original);
    }

    /// <summary>OpenAI's presence and frequency penalties, over the generated tokens only (as OpenAI defines them and vLLM
    /// applies them): a token generated c times loses frequency × c + presence from its logit.</summary>
    public static void PenalizePresenceAndFrequency(Span<float> logits, ReadOnlySpan<int> generated, float presence, float frequency)
    {
        var sorted = ArrayPool<int>.Shared.Rent(generated.Length);
        var tokens = sorted.AsSpan(0, generated.Length);
        generated.CopyTo(tokens);
        tokens.Sort();
        for (var start = 0; start < tokens.Length;)
        {
            var end = start + 1;
            while (end < tokens.Length && tokens[end] == tokens[start])
                end++;
            logits[tokens[start]] -= frequency * (end - start) + presence;
            start = end;
        }
        ArrayPool<int>.Shared.Return(sorted);
    }

    /// <summary>NoBadWordsLogitsProcessor: a bad word's last token is banned when the context ends with the tokens before it (always, for a one-token word).</summary>
    public static void BanBadWords(Span<float> logits, ReadOnlySpan<int> context, IReadOnlyList<int[]> badWords)
    {
        foreach (var word in badWords)
        {
            if (context.EndsWith(word.AsSpan(0, word.Length - 1)))
                logits[word[^1]] = float.NegativeInfinity;
        }
    }

    /// <summary>Where logits overflowed to +inf (a bias and a negative presence penalty near float's limit add up to more than
    /// it), those tokens hold all the probability, as the softmax's limit does: each gets 0, every other token -inf, so the
    /// draw is uniform over them and the log-probability -log(count).</summary>
    /// <remarks>Left as they were, the softmax's inf - inf made every probability NaN: the draw took the vocabulary's last
    /// token and the log-probability was NaN.</remarks>
    public static void KeepOverflowed(Span<float> logits)
    {
        foreach (ref var logit in logits)
            logit = float.IsPositiveInfinity(logit) ? 0f : float.NegativeInfinity;
    }

    /// <summary>TemperatureLogitsWarper: logits divided by the temperature.</summary>
    public static void ApplyTemperature(Span<float> logits, float temperature) =>
        TensorPrimitives.Divide(logits, temperature, logits);

    /// <summary>TopKLogitsWarper: tokens below the k-th largest logit are removed (tokens tied with it stay).</summary>
    public static void KeepTopK(Span<float> logits, int k)
    {
        if (k >= logits.Length)
            return;
        var kth = KthLargest(logits, k);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (var threshold = Vector256.Create(kth); i + Vector256<float>.Count <= logits.Length; i += Vector256<float>.Count)
            {
                var values = Vector256.Create(logits.Slice(i, Vector256<float>.Count));
                Vector256.ConditionalSelect(Vector256.LessThan(values, threshold), Vector256.Create(float.NegativeInfinity), values)
                    .CopyTo(logits.Slice(i, Vector256<float>.Count));
            }
        for (; i < logits.Length; i++)
        {
            if (logits[i] < kth)
                logits[i] = float.NegativeInfinity;
        }
    }

    /// <summary>TopPLogitsWarper: in ascending order of probability, tokens whose cumulative probability is at most 1 - top_p are removed; the most probable token always stays.</summary>
    public static void KeepTopP(Span<float> logits, float topP)
    {
        using var gathered = FiniteLogits.Gather(logits);
        if (gathered.Count == 0)
            return; // every token is banned already, which the draw reports
        if (gathered.Count > 0)
        {
            // After top-k: the same arithmetic on the few tokens left, in token order.
            var probabilities = gathered.Probabilities(out var max, out _);
            RemoveBelowTopP(logits, topP, gathered.Tokens, probabilities, gathered.Values, max);
            return;
        }
        var scratch = ArrayPool<float>.Shared.Rent(logits.Length);
        var maximum = TensorPrimitives.Max(logits);
        Kernels.Softmax(logits, maximum, scratch.AsSpan(0, logits.Length));
        RemoveBelowTopP(logits, topP, [], scratch.AsSpan(0, logits.Length), logits, maximum);
        ArrayPool<float>.Shared.Return(scratch);
    }

    /// <summary>Top-p over the tokens <paramref name="tokens"/> (ascending; empty for every token of the vocabulary) with
    /// these probabilities and logits; every token not among them has a logit of -inf already.</summary>
    private static void RemoveBelowTopP(Span<float> logits, float topP, ReadOnlySpan<int> tokens, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> values, float max)
    {
        var finite = probabilities.Length - probabilities.Count(0f);

        // HF compares the float32 cumulative sum with 1 - top_p.
        var threshold = (double)(float)(1.0 - topP);
        // In ascending order a token's cumulative probability is at most (tokens up to it) * p <= finite * p, so
        // tokens with finite * p <= threshold are removed without sorting; they also all come first in the order.
        // The most probable token always stays a candidate (top_p = 0 would otherwise prune it).
        var candidates = ArrayPool<(double Probability, int Token)>.Shared.Rent(finite);
        var count = 0;
        var cumulative = 0.0;
        for (var start = 0; start < probabilities.Length; start += Vector256<float>.Count)
        {
            var end = Math.Min(start + Vector256<float>.Count, probabilities.Length);
            // After top-k on the dense path nearly every token has probability 0 (so it is not the maximum, whose
            // probability is at least 1 / vocabulary): eight at a time, the loop below would add nothing and remove all eight.
            if (end - start == Vector256<float>.Count && Vector256.EqualsAll(Vector256.Create(probabilities.Slice(start, Vector256<float>.Count)), Vector256<float>.Zero))
            {
                for (var i = start; i < end; i++) logits[tokens.IsEmpty ? i : tokens[i]] = float.NegativeInfinity;
                continue;
            }
            for (var i = start; i < end; i++)
            {
                double p = probabilities[i];
                var token = tokens.IsEmpty ? i : tokens[i];
                if (finite * p > threshold || values[i] == max)
                {
                    candidates[count++] = (p, token);
                }
                else
                {
                    cumulative += p;
                    logits[token] = float.NegativeInfinity;
                }
            }
        }

        var sorted = candidates.AsSpan(0, count);
        sorted.Sort();
        // The last (most probable) token is kept whatever the sum (min_tokens_to_keep = 1).
        for (var i = 0; i < sorted.Length - 1; i++)
        {
            cumulative += sorted[i].Probability;
            if (cumulative > threshold)
                break;
            logits[sorted[i].Token] = float.NegativeInfinity;
        }
        ArrayPool<(double, int)>.Shared.Return(candidates);
    }

    /// <summary>The k-th largest value (k from 1, below the count), ties counted: the minimum of a heap of the k largest
    /// values seen so far.</summary>
    /// <remarks>Once the heap is full a value only enters it if it beats the heap's minimum, and a vector of eight values
    /// none of which does is passed over at once: for top-k 50 of a 50,400-token vocabulary that is nearly every vector.
    /// The quickselect this replaced copied and partitioned the whole vocabulary for every sampled token: 7.7% of an int8
    /// seed request's time (ten samples, 236 tokens), with the rest of the sampling another 6%.</remarks>
    internal static float KthLargest(ReadOnlySpan<float> values, int k)
    {
        var heap = ArrayPool<float>.Shared.Rent(k);
        try
        {
            var i = 0;
            for (; i < k; i++)
            {
                // Sift up: a parent is never larger than its children.
                var child = i;
                for (var parent = (child - 1) / 2; child > 0 && heap[parent] > values[i]; child = parent, parent = (child - 1) / 2)
                    heap[child] = heap[parent];
                heap[child] = values[i];
            }
            if (Vector256.IsHardwareAccelerated)
                for (; i + Vector256<float>.Count <= values.Length; i += Vector256<float>.Count)
                {
                    if (!Vector256.GreaterThanAny(Vector256.Create(values.Slice(i, Vector256<float>.Count)), Vector256.Create(heap[0])))
                        continue;
                    for (var j = i; j < i + Vector256<float>.Count; j++)
                        if (values[j] > heap[0]) ReplaceMinimum(heap, k, values[j]);
                }
            for (; i < values.Length; i++)
                if (values[i] > heap[0]) ReplaceMinimum(heap, k, values[i]);
            return heap[0];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(heap);
        }
    }

    /// <summary>Puts <paramref name="value"/> in place of the heap's minimum and sifts it down.</summary>
    private static void ReplaceMinimum(float[] heap, int count, float value)
    {
        var at = 0;
        while (true)
        {
            var smallest = 2 * at + 1;
            if (smallest >= count) break;
            if (smallest + 1 < count && heap[smallest + 1] < heap[smallest]) smallest++;
            if (heap[smallest] >= value) break;
            heap[at] = heap[smallest];
            at = smallest;
        }
        heap[at] = value;
    }
}
