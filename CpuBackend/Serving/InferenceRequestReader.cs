using System.Globalization;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;
using Grpc.Core;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>A checked inference request: one generation request per batch row plus the response options.</summary>
internal sealed record InferenceJob(
    string Id,
    IReadOnlyList<GenerationRequest> Rows,
    IReadOnlyList<int> PadIds,
    bool Streaming,
    bool ExcludeInputInOutput,
    bool ReturnLogProbs,
    IReadOnlySet<string> Outputs);

/// <summary>Turns a KServe ModelInferRequest into generation requests, checking every tensor against <see cref="GenerationContract"/>.</summary>
/// <remarks>Every problem is an INVALID_ARGUMENT that names the tensor, as Triton reports them.</remarks>
internal static class InferenceRequestReader
{
    public static InferenceJob Read(ModelInferRequest request, string modelName, int maxBatchSize, GptjConfig config)
    {
        var batch = CheckTensors(request, modelName, maxBatchSize);
        try
        {
            return ReadRows(request, modelName, batch, config);
        }
        catch (TensorFormatException error)
        {
            throw Invalid(error.TensorName, error.Message);
        }
    }

    /// <summary>Names, datatypes, ranks, fixed dims and a common batch size; returns the batch size.</summary>
    private static int CheckTensors(ModelInferRequest request, string modelName, int maxBatchSize)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long? batch = null;
        foreach (var input in request.Inputs)
        {
            var expected = C.FindInput(input.Name)
                ?? throw Invalid(input.Name, $"Unexpected inference input '{input.Name}' for model '{modelName}'; it takes: {string.Join(", ", C.Inputs.Select(i => i.Name))}.");
            if (!seen.Add(input.Name))
            {
                throw Invalid(input.Name, $"Input '{input.Name}' appears more than once.");
            }
            if (input.Datatype != expected.Datatype)
            {
                throw Invalid(input.Name, $"Input '{input.Name}' has datatype {input.Datatype}; model '{modelName}' expects {expected.Datatype}.");
            }
            if (!ShapeFits(input.Shape, expected.Shape))
            {
                throw Invalid(input.Name, $"Input '{input.Name}' has shape {TensorShape.Format(input.Shape)}; model '{modelName}' expects {TensorShape.Format(expected.Shape)} (batch first).");
            }
            if (batch is { } b && b != input.Shape[0])
            {
                throw Invalid(input.Name, $"Input '{input.Name}' has batch size {input.Shape[0]} but other inputs have {b}.");
            }
            batch = input.Shape[0];
        }
        foreach (var required in C.Inputs.Where(i => !i.Optional))
        {
            if (!seen.Contains(required.Name))
            {
                throw Invalid(required.Name, $"Missing required input '{required.Name}' ({required.Datatype}, shape {TensorShape.Format(required.Shape)}).");
            }
        }
        if (batch is not { } size || size < 1 || size > maxBatchSize)
        {
            throw Invalid(C.InputIds, $"Batch size {batch} is outside [1, {maxBatchSize}] (max_batch_size of model '{modelName}').");
        }
        foreach (var output in request.Outputs)
        {
            if (C.Outputs.All(o => o.Name != output.Name))
            {
                throw Invalid(output.Name, $"Unexpected inference output '{output.Name}' for model '{modelName}'; it has: {string.Join(", ", C.Outputs.Select(o => o.Name))}.");
            }
        }
        return (int)size;
    }

    private static bool ShapeFits(IReadOnlyList<long> actual, long[] expected)
    {
        if (actual.Count != expected.Length)
        {
            return false;
        }
        for (var i = 0; i < expected.Length; i++)
        {
            if (actual[i] < 0 || (expected[i] >= 0 && actual[i] != expected[i]))
            {
                return false;
            }
        }
        return true;
    }

    private static InferenceJob ReadRows(ModelInferRequest request, string modelName, int batch, GptjConfig config)
    {
        var ids = request.GetInput<int>(C.InputIds);
        var lengths = request.GetInput<int>(C.InputLengths).Data;
        var outputLengths = request.GetInput<int>(C.RequestOutputLen).Data;
        var endIds = request.FindInput<int>(C.EndId)?.Data;
        var padIds = request.FindInput<int>(C.PadId)?.Data;
        var topK = request.FindInput<int>(C.RuntimeTopK)?.Data;
        var topP = request.FindInput<float>(C.RuntimeTopP)?.Data;
        var temperature = request.FindInput<float>(C.Temperature)?.Data;
        var penalty = request.FindInput<float>(C.RepetitionPenalty)?.Data;
        var seed = request.FindInput<ulong>(C.Seed)?.Data;
        var samples = request.FindInput<int>(C.NumReturnSequences)?.Data;
        var presence = request.FindInput<float>(C.PresencePenalty)?.Data;
        var frequency = request.FindInput<float>(C.FrequencyPenalty)?.Data;
        var minLength = request.FindInput<int>(C.MinLength)?.Data;
        var bias = request.FindInput<float>(C.EmbeddingBias);
        var beamWidth = request.FindInput<int>(C.BeamWidth)?.Data;
        var contextLogits = request.FindInput<bool>(C.ReturnContextLogits)?.Data;
        var generationLogits = request.FindInput<bool>(C.ReturnGenerationLogits)?.Data;
        var stopWords = request.FindInput<int>(C.StopWordsList);
        var badWords = request.FindInput<int>(C.BadWordsList);

        var width = (int)ids.Shape[1];
        var rows = new List<GenerationRequest>(batch);
        var pads = new List<int>(batch);
        for (var row = 0; row < batch; row++)
        {
            var length = lengths[row];
            if (length < 1 || length > width)
            {
                throw Invalid(C.InputLengths, $"Input '{C.InputLengths}' row {row} is {length}; it must be between 1 and the width of '{C.InputIds}' ({width}).");
            }
            var prompt = ids.Data.AsSpan(row * width, length).ToArray();
            foreach (var id in prompt)
            {
                if ((uint)id >= (uint)config.VocabSize)
                {
                    throw Invalid(C.InputIds, $"Input '{C.InputIds}' row {row} holds token id {id}, outside the vocabulary [0, {config.VocabSize}).");
                }
            }
            var outputLength = outputLengths[row];
            if (outputLength < 1)
            {
                throw Invalid(C.RequestOutputLen, $"Input '{C.RequestOutputLen}' row {row} is {outputLength}; it must be at least 1.");
            }
            if ((long)length + outputLength > config.ContextLength)
            {
                throw Invalid(C.RequestOutputLen, $"Prompt of {length} tokens ('{C.InputLengths}') plus {outputLength} new tokens ('{C.RequestOutputLen}') is {(long)length + outputLength}, beyond the context window of {config.ContextLength} tokens of model '{modelName}'.");
            }
            var sampling = new SamplingParameters(
                TopK: Checked(C.RuntimeTopK, row, topK?[row] ?? 0, k => k >= 0, "at least 0 (0 = off)"),
                TopP: Checked(C.RuntimeTopP, row, topP?[row] ?? 1f, p => p > 0f && p <= 1f, "in (0, 1]"),
                Temperature: Checked(C.Temperature, row, temperature?[row] ?? 1f, t => t >= 0f && float.IsFinite(t), string.Create(CultureInfo.InvariantCulture, $"finite and at least 0 (below {C.GreedyTemperatureBelow} = greedy)")),
                RepetitionPenalty: Checked(C.RepetitionPenalty, row, penalty?[row] ?? 1f, r => r >= C.MinRepetitionPenalty && float.IsFinite(r),
                    $"at least {C.MinRepetitionPenalty.ToString(CultureInfo.InvariantCulture)} (1 = off)"),
                Seed: seed?[row],
                PresencePenalty: Checked(C.PresencePenalty, row, presence?[row] ?? 0f, float.IsFinite, "finite (0 = off)"),
                FrequencyPenalty: Checked(C.FrequencyPenalty, row, frequency?[row] ?? 0f, float.IsFinite, "finite (0 = off)"),
                MinNewTokens: Checked(C.MinLength, row, minLength?[row] ?? 0, m => m >= 0, "at least 0"),
                LogitBias: bias is null ? null : LogitBias(bias, row, config.VocabSize));
            // A sampling server: TensorRT-LLM's beam search and logits outputs are accepted only as off (len_penalty,
            // early_stopping and beam_search_diversity_rate, which act on beams alone, are read as anything).
            Checked(C.BeamWidth, row, beamWidth?[row] ?? 1, w => w == 1, "1: this server samples and does not search beams");
            Checked(C.ReturnContextLogits, row, contextLogits?[row] ?? false, r => !r, "false: this server does not return logits");
            Checked(C.ReturnGenerationLogits, row, generationLogits?[row] ?? false, r => !r, "false: this server does not return logits");
            var count = Checked(C.NumReturnSequences, row, samples?[row] ?? 1, n => n >= 1, "at least 1");
            // Without end_id, generation stops at the model's end-of-text token, as HF generate() does.
            var endId = endIds?[row] ?? config.EosTokenId;
            pads.Add(padIds?[row] ?? endId);
            rows.Add(new GenerationRequest(
                Id: batch == 1 ? request.Id : $"{request.Id}[{row}]",
                PromptIds: prompt,
                MaxNewTokens: outputLength,
                NumSequences: count,
                Sampling: sampling,
                EndId: endId,
                StopWords: stopWords is null ? [] : WordList(stopWords, row),
                BadWords: badWords is null ? [] : WordList(badWords, row)));
        }
        return new InferenceJob(
            request.Id,
            rows,
            pads,
            Streaming: Flag(request, C.Streaming),
            ExcludeInputInOutput: Flag(request, C.ExcludeInputInOutput),
            ReturnLogProbs: Flag(request, C.ReturnLogProbs),
            Outputs: RequestedOutputs(request));
    }

    private static T Checked<T>(string tensor, int row, T value, Func<T, bool> valid, string rule) =>
        valid(value) ? value : throw Invalid(tensor, $"Input '{tensor}' row {row} is {value}; it must be {rule}.");

    /// <summary>A row of <c>embedding_bias</c>: one finite value per token of the vocabulary.</summary>
    private static float[] LogitBias(InferTensor<float> bias, int row, int vocabSize)
    {
        if (bias.Shape[1] != vocabSize)
            throw Invalid(C.EmbeddingBias, $"Input '{C.EmbeddingBias}' has {bias.Shape[1]} values a row; it must have one per token of the vocabulary ({vocabSize}).");
        var values = bias.Data.AsSpan(row * vocabSize, vocabSize).ToArray();
        var bad = Array.FindIndex(values, v => !float.IsFinite(v));
        return bad < 0 ? values : throw Invalid(C.EmbeddingBias, $"Input '{C.EmbeddingBias}' row {row} holds {values[bad]} for token {bad}; every bias must be a finite number.");
    }

    private static bool Flag(ModelInferRequest request, string name) => request.FindInput<bool>(name)?.Data.Any(v => v) ?? false;

    /// <summary>The outputs to return: those requested, or every output when none are (KServe v2).</summary>
    private static HashSet<string> RequestedOutputs(ModelInferRequest request) =>
        request.Outputs.Count == 0
            ? C.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal)
            : request.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Decodes one row of a TensorRT-LLM word list: [2, L], row 0 the words' token ids back to back, row 1 each word's end offset, padded with -1.</summary>
    private static List<int[]> WordList(InferTensor<int> tensor, int row)
    {
        var width = (int)tensor.Shape[2];
        var tokens = tensor.Data.AsSpan(row * 2 * width, width);
        var offsets = tensor.Data.AsSpan(row * 2 * width + width, width);
        var words = new List<int[]>();
        var start = 0;
        foreach (var end in offsets)
        {
            if (end < 0)
            {
                break;
            }
            if (end <= start || end > width)
            {
                throw Invalid(tensor.Name, $"Input '{tensor.Name}' row {row} has word end offset {end} after {start}; offsets must increase and stay within {width}.");
            }
            words.Add(tokens[start..end].ToArray());
            start = end;
        }
        return words;
    }

    private static RpcException Invalid(string tensor, string message) => ServingErrors.InvalidTensor(tensor, message);
}
