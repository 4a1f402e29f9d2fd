using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Generation requests in the tensor contract, as a client would build them.</summary>
internal static class Requests
{
    public static ModelInferRequest Generate(int[] prompt, int outputLength, int samples = 1, bool streaming = false, bool excludeInput = false, int? endId = -1, int? topK = 1, ulong? seed = null, string id = "r1")
    {
        var request = new ModelInferRequest { ModelName = "gptj", Id = id }
            .AddInput<int>(C.InputIds, [1, prompt.Length], prompt)
            .AddInput<int>(C.InputLengths, [1, 1], [prompt.Length])
            .AddInput<int>(C.RequestOutputLen, [1, 1], [outputLength]);
        if (endId is { } end)
        {
            request.AddInput<int>(C.EndId, [1, 1], [end]);
        }
        if (topK is { } k)
        {
            request.AddInput<int>(C.RuntimeTopK, [1, 1], [k]);
        }
        if (seed is { } s)
        {
            request.AddInput<ulong>(C.Seed, [1, 1], [s]);
        }
        if (samples != 1)
        {
            request.AddInput<int>(C.NumReturnSequences, [1, 1], [samples]);
        }
        if (streaming)
        {
            request.AddInput<bool>(C.Streaming, [1, 1], [true]);
        }
        if (excludeInput)
        {
            request.AddInput<bool>(C.ExcludeInputInOutput, [1, 1], [true]);
        }
        return request;
    }
}
