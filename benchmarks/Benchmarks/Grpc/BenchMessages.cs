using Google.Protobuf;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.Benchmarks.Grpc;

/// <summary>The messages every stack in the `grpc` suite exchanges, so each side sends the same bytes (grpcio_bench.py builds the same ones).</summary>
internal static class BenchMessages
{
    /// <summary>Request parameter naming how many responses the server streams back.</summary>
    public const string ResponseCountParameter = "bench_responses";

    /// <summary>The unary call: ModelReady with a 64-character model name.</summary>
    public static readonly ModelReadyRequest Ping = new() { Name = new string('x', 64) };

    public static readonly ModelReadyResponse Pong = new() { Ready = true };

    /// <summary>One ModelStreamInfer request asking for <paramref name="responses"/> one-token responses, as a streamed generation gets.</summary>
    public static ModelInferRequest StreamRequest(int responses) => new()
    {
        Id = "bench",
        ModelName = "gptj",
        Parameters = { [ResponseCountParameter] = new InferParameter { Int64Param = responses } },
    };

    /// <summary>Answers a stream request with its responses, each one token as CpuBackend sends it, the last marked final.</summary>
    public static async Task AnswerAsync(ModelInferRequest request, Func<ModelStreamInferResponse, Task> write)
    {
        var count = (int)request.Parameters[ResponseCountParameter].Int64Param;
        for (var i = 0; i < count; i++)
        {
            await write(Token(request.Id, i, final: i == count - 1));
        }
    }

    public static bool IsFinal(ModelStreamInferResponse response) => response.InferResponse.IsFinalResponse();

    private static ModelStreamInferResponse Token(string id, int index, bool final)
    {
        var response = new ModelInferResponse
        {
            ModelName = "gptj",
            ModelVersion = "1",
            Id = id,
            Parameters = { [GenerationContract.FinalResponseParameter] = new InferParameter { BoolParam = final } },
            Outputs = { new ModelInferResponse.Types.InferOutputTensor { Name = GenerationContract.OutputIds, Datatype = "INT32", Shape = { 1, 1, 1 } } },
            RawOutputContents = { ByteString.CopyFrom(BitConverter.GetBytes(index % 50400)) },
        };
        return new ModelStreamInferResponse { InferResponse = response };
    }
}
