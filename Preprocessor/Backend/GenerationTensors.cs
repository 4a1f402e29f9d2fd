using GptjAspire.Preprocessor.Generation;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.Preprocessor.Backend;

/// <summary>Maps a <see cref="GenerationPlan"/> onto the generation tensor contract, and the backend's responses back onto samples.</summary>
/// <remarks>One request for all n samples (<c>num_return_sequences</c>); scalars are <c>[1, 1]</c> under the batch dimension.</remarks>
public static class GenerationTensors
{
    public static ModelInferRequest Request(GenerationPlan plan, string modelName, bool streaming)
    {
        var sampling = plan.Sampling;
        var request = new ModelInferRequest { ModelName = modelName, Id = plan.RequestId };
        request.AddInput<int>(GenerationContract.InputIds, [1, plan.PromptIds.Length], plan.PromptIds);
        request.AddInput<int>(GenerationContract.InputLengths, [1, 1], [plan.PromptIds.Length]);
        request.AddInput<int>(GenerationContract.RequestOutputLen, [1, 1], [plan.MaxNewTokens]);
        if (plan.EndId is { } endId)
        {
            request.AddInput<int>(GenerationContract.EndId, [1, 1], [endId]);
            request.AddInput<int>(GenerationContract.PadId, [1, 1], [endId]);
        }
        request.AddInput<int>(GenerationContract.RuntimeTopK, [1, 1], [sampling.TopK]);
        if (sampling.HasTopP)
            request.AddInput<float>(GenerationContract.RuntimeTopP, [1, 1], [sampling.TopP]);
        if (sampling.HasTemperature)
            request.AddInput<float>(GenerationContract.Temperature, [1, 1], [sampling.Temperature]);
        if (sampling.HasRepetitionPenalty)
            request.AddInput<float>(GenerationContract.RepetitionPenalty, [1, 1], [sampling.RepetitionPenalty]);
        if (sampling.HasSeed)
            request.AddInput<ulong>(GenerationContract.Seed, [1, 1], [sampling.Seed]);
        if (sampling.HasPresencePenalty)
            request.AddInput<float>(GenerationContract.PresencePenalty, [1, 1], [sampling.PresencePenalty]);
        if (sampling.HasFrequencyPenalty)
            request.AddInput<float>(GenerationContract.FrequencyPenalty, [1, 1], [sampling.FrequencyPenalty]);
        if (plan.LogitBias is { } bias)
            request.AddInput<float>(GenerationContract.EmbeddingBias, [1, bias.Length], bias);
        if (plan.MinNewTokens > 0)
            request.AddInput<int>(GenerationContract.MinLength, [1, 1], [plan.MinNewTokens]);
        if (plan.StopTokenIds.Count > 0)
            request.AddInput<int>(GenerationContract.StopWordsList, [1, 2, plan.StopTokenIds.Sum(w => w.Length)], WordList(plan.StopTokenIds));
        request.AddInput<int>(GenerationContract.NumReturnSequences, [1, 1], [plan.Samples]);
        // Only the new tokens: the Preprocessor already has the prompt.
        request.AddInput<bool>(GenerationContract.ExcludeInputInOutput, [1, 1], [true]);
        request.AddInput<bool>(GenerationContract.Streaming, [1, 1], [streaming]);
        return request;
    }

    /// <summary>TensorRT-LLM's word list for one batch row, <c>[2, L]</c> flattened: row 0 the words' token ids back to back,
    /// row 1 each word's end offset into row 0 (cumulative), padded with -1 (row 0 with 0) to the same length.</summary>
    public static int[] WordList(IReadOnlyList<int[]> words)
    {
        var width = words.Sum(w => w.Length);
        var list = new int[2 * width];
        Array.Fill(list, -1, width, width);
        var end = 0;
        for (var i = 0; i < words.Count; i++)
        {
            words[i].CopyTo(list, end);
            end += words[i].Length;
            list[width + i] = end;
        }
        return list;
    }

    /// <summary>The new tokens a response holds, per sample: with <c>sequence_index</c> the single row is that sample,
    /// otherwise row k is sample k; each row is cut at its <c>sequence_length</c>.</summary>
    public static IEnumerable<(int Sample, ArraySegment<int> Tokens)> Tokens(ModelInferResponse response, int samples)
    {
        if (response.Outputs.Count == 0)
            yield break;
        var ids = response.GetOutput<int>(GenerationContract.OutputIds);
        if (ids.Shape.Length != 3)
            throw new TensorFormatException(GenerationContract.OutputIds, $"output_ids must be [batch, samples, length]; got {ids.Shape.Length} dimensions.");
        var rows = (int)ids.Shape[1];
        var width = (int)ids.Shape[2];
        var lengths = response.FindOutput<int>(GenerationContract.SequenceLength);
        var sequenceIndex = response.FindOutput<int>(GenerationContract.SequenceIndex);
        if (lengths is not null && lengths.Data.Length < rows)
            throw new TensorFormatException(GenerationContract.SequenceLength, $"sequence_length holds {lengths.Data.Length} lengths for {rows} rows of output_ids.");
        if (sequenceIndex is { Data.Length: 0 })
            throw new TensorFormatException(GenerationContract.SequenceIndex, "sequence_index is empty.");
        for (var row = 0; row < rows; row++)
        {
            var sample = sequenceIndex is null ? row : sequenceIndex.Data[0] + row;
            if (sample < 0 || sample >= samples)
                throw new TensorFormatException(GenerationContract.OutputIds, $"the backend returned sample {sample} of a request for {samples}.");
            var length = lengths is null ? width : Math.Clamp(lengths.Data[row], 0, width);
            yield return (sample, new ArraySegment<int>(ids.Data, row * width, length));
        }
    }
}
