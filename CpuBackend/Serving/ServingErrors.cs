using GptjAspire.CpuBackend.Generation;
using Grpc.Core;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Maps what can go wrong while serving a request to the gRPC status Triton would answer with.</summary>
internal static class ServingErrors
{
    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    /// <summary>The status for an exception thrown while reading, queueing or generating a request.</summary>
    public static Status ToStatus(Exception error, DateTime deadline) => error switch
    {
        RpcException rpc => rpc.Status,
        TensorFormatException format => new Status(StatusCode.InvalidArgument, format.Message),
        QueueFullException full => new Status(StatusCode.ResourceExhausted, full.Message),
        KvCacheBudgetExceededException tooLarge => new Status(StatusCode.ResourceExhausted, tooLarge.Message),
        ArgumentException argument => new Status(StatusCode.InvalidArgument, Describe(argument)),
        OperationCanceledException when DateTime.UtcNow >= deadline => new Status(StatusCode.DeadlineExceeded, "The deadline passed before generation finished."),
        OperationCanceledException => new Status(StatusCode.Cancelled, "The request was cancelled."),
        ObjectDisposedException => new Status(StatusCode.Unavailable, "The server is shutting down."),
        _ => new Status(StatusCode.Internal, $"Generation failed: {error.Message}"),
    };

    /// <summary>The scheduler names request fields; clients know them as tensors.</summary>
    private static string Describe(ArgumentException error)
    {
        var tensor = error.ParamName switch
        {
            "PromptIds" => C.InputIds,
            "MaxNewTokens" => C.RequestOutputLen,
            "NumSequences" => C.NumReturnSequences,
            "StopWords" => C.StopWordsList,
            "BadWords" => C.BadWordsList,
            "TopK" => C.RuntimeTopK,
            "TopP" => C.RuntimeTopP,
            "Temperature" => C.Temperature,
            "RepetitionPenalty" => C.RepetitionPenalty,
            _ => null,
        };
        var message = error.Message.Replace($" (Parameter '{error.ParamName}')", "", StringComparison.Ordinal);
        return tensor is null ? message : $"Input '{tensor}': {message}";
    }

    /// <summary>The text of an in-band stream error: the status name first ("INVALID_ARGUMENT: ..."), so clients can recover the code that ModelStreamInferResponse has no field for.</summary>
    public static string StreamErrorMessage(Status status) => $"{StatusNames.Of(status.StatusCode)}: {status.Detail}";
}
