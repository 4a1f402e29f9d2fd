using GptjAspire.CpuBackend.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>The tokens and log-probabilities generated for one sequence of one batch row.</summary>
internal sealed class SequenceResult
{
    public List<int> Tokens { get; } = [];
    public List<float> LogProbs { get; } = [];
    public FinishReason Finish { get; set; }
}

/// <summary>Builds KServe responses in the shapes of the generation contract (see <see cref="C"/>'s remarks).</summary>
internal static class InferenceResponses
{
    /// <summary>The whole result: output_ids [b, n, len] (prompt first unless excluded), padded per row; sequence_length [b, n]; log probs on request.</summary>
    public static ModelInferResponse Whole(InferenceJob job, string modelName, IReadOnlyList<SequenceResult[]> rows)
    {
        var response = New(job, modelName);
        var batch = rows.Count;
        var samples = rows.Max(r => r.Length);
        var lengths = new int[batch * samples];
        var full = new List<int>[batch * samples];
        for (var row = 0; row < batch; row++)
        {
            var prompt = job.ExcludeInputInOutput ? [] : job.Rows[row].PromptIds;
            for (var s = 0; s < samples; s++)
            {
                var sequence = new List<int>(prompt);
                if (s < rows[row].Length)
                {
                    sequence.AddRange(rows[row][s].Tokens);
                }
                full[row * samples + s] = sequence;
                lengths[row * samples + s] = sequence.Count;
            }
        }
        var width = lengths.Max();
        var ids = new int[batch * samples * width];
        for (var i = 0; i < full.Length; i++)
        {
            var pad = job.PadIds[i / samples];
            ids.AsSpan(i * width, width).Fill(pad);
            full[i].CopyTo(ids, i * width);
        }
        if (job.Outputs.Contains(C.OutputIds))
        {
            response.AddOutput<int>(C.OutputIds, [batch, samples, width], ids);
        }
        if (job.Outputs.Contains(C.SequenceLength))
        {
            response.AddOutput<int>(C.SequenceLength, [batch, samples], lengths);
        }
        if (job.ReturnLogProbs)
        {
            var generated = rows.SelectMany(r => r).Select(s => s.LogProbs.Count).DefaultIfEmpty(0).Max();
            var cumulative = new float[batch * samples];
            var each = new float[batch * samples * generated];
            for (var row = 0; row < batch; row++)
            {
                for (var s = 0; s < rows[row].Length; s++)
                {
                    var logProbs = rows[row][s].LogProbs;
                    cumulative[row * samples + s] = logProbs.Sum();
                    logProbs.CopyTo(each, (row * samples + s) * generated);
                }
            }
            if (job.Outputs.Contains(C.CumLogProbs))
            {
                response.AddOutput<float>(C.CumLogProbs, [batch, samples], cumulative);
            }
            if (job.Outputs.Contains(C.OutputLogProbs))
            {
                response.AddOutput<float>(C.OutputLogProbs, [batch, samples, generated], each);
            }
        }
        return response;
    }

    /// <summary>One streamed token: output_ids [1, 1, 1] with sequence_index / batch_index when the request has several samples / rows, as TensorRT-LLM streams.</summary>
    public static ModelInferResponse Token(InferenceJob job, string modelName, int row, SequenceToken token, float cumulativeLogProb, bool final)
    {
        var response = New(job, modelName);
        if (job.Outputs.Contains(C.OutputIds))
        {
            response.AddOutput<int>(C.OutputIds, [1, 1, 1], [token.TokenId]);
        }
        if (job.Outputs.Contains(C.SequenceLength))
        {
            response.AddOutput<int>(C.SequenceLength, [1, 1], [1]);
        }
        if (job.ReturnLogProbs && job.Outputs.Contains(C.CumLogProbs))
        {
            response.AddOutput<float>(C.CumLogProbs, [1, 1], [cumulativeLogProb]);
        }
        if (job.ReturnLogProbs && job.Outputs.Contains(C.OutputLogProbs))
        {
            response.AddOutput<float>(C.OutputLogProbs, [1, 1, 1], [token.LogProb]);
        }
        if (job.Rows.Count > 1 && job.Outputs.Contains(C.BatchIndex))
        {
            response.AddOutput<int>(C.BatchIndex, [1, 1], [row]);
        }
        if (job.Rows[row].NumSequences > 1 && job.Outputs.Contains(C.SequenceIndex))
        {
            response.AddOutput<int>(C.SequenceIndex, [1, 1], [token.Sequence]);
        }
        return MarkFinal(response, final);
    }

    /// <summary>Sets <c>triton_final_response</c>, which Triton puts on every response of a decoupled stream.</summary>
    public static ModelInferResponse MarkFinal(ModelInferResponse response, bool final)
    {
        response.Parameters[C.FinalResponseParameter] = new InferParameter { BoolParam = final };
        return response;
    }

    /// <summary>A response with no outputs that only closes a request (Triton's empty final response).</summary>
    public static ModelInferResponse EmptyFinal(InferenceJob job, string modelName) => MarkFinal(New(job, modelName), final: true);

    private static ModelInferResponse New(InferenceJob job, string modelName) =>
        new() { ModelName = modelName, ModelVersion = ModelDescription.Version, Id = job.Id };
}
