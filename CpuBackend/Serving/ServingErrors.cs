using Google.Rpc;
using GptjAspire.CpuBackend.Generation;
using Grpc.Core;
using GptjAspire.TritonClient;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Maps what can go wrong while serving a request to the gRPC status Triton would answer with.</summary>
/// <remarks>
/// Only a refused request (<see cref="InvalidGenerationRequestException"/>, or the reader's own INVALID_ARGUMENT) is the
/// client's fault. Any other exception, an engine <see cref="ArgumentException"/> included, is a broken invariant of this
/// server: INTERNAL with a fixed message, the exception in the log only.
/// </remarks>
internal static class ServingErrors
{
    /// <summary>What a client is told about a fault of this server's own.</summary>
    public const string InternalMessage = "Generation failed inside the server; its log has the details.";

    public static RpcException NotFound(string message) => new(new Grpc.Core.Status(Grpc.Core.StatusCode.NotFound, message));

    public static RpcException Unavailable(string message) => new(new Grpc.Core.Status(Grpc.Core.StatusCode.Unavailable, message));

    public static RpcException InvalidArgument(string message) => new(new Grpc.Core.Status(Grpc.Core.StatusCode.InvalidArgument, message));

    /// <summary>A refused input tensor: the message as written, a field violation naming the tensor for code that reads details.</summary>
    public static RpcException InvalidTensor(string tensor, string message) => WithViolation(tensor, message, message).ToRpcException();

    /// <summary>The status, with its google.rpc details, for an exception thrown while reading, queueing or generating a request.</summary>
    public static Google.Rpc.Status ToStatus(Exception error, DateTime deadline) => error switch
    {
        RpcException rpc => rpc.GetRpcStatus() ?? Plain(rpc.StatusCode, rpc.Status.Detail),
        InvalidGenerationRequestException invalid => Invalid(Tensor(invalid.Field), invalid.Message),
        QueueFullException full => Plain(Grpc.Core.StatusCode.ResourceExhausted, full.Message),
        KvCacheBudgetExceededException tooLarge => Plain(Grpc.Core.StatusCode.ResourceExhausted, tooLarge.Message),
        OperationCanceledException when DateTime.UtcNow >= deadline => Plain(Grpc.Core.StatusCode.DeadlineExceeded, "The deadline passed before generation finished."),
        OperationCanceledException => Plain(Grpc.Core.StatusCode.Cancelled, "The request was cancelled."),
        ObjectDisposedException => Plain(Grpc.Core.StatusCode.Unavailable, "The server is shutting down."),
        _ => Plain(Grpc.Core.StatusCode.Internal, InternalMessage),
    };

    /// <summary>The tensor a client sent a <see cref="GenerationRequest"/> field as.</summary>
    private static string Tensor(string field) => field switch
    {
        "PromptIds" => C.InputIds,
        "MaxNewTokens" => C.RequestOutputLen,
        "NumSequences" => C.NumReturnSequences,
        "StopWords" => C.StopWordsList,
        "BadWords" => C.BadWordsList,
        "Sampling.TopK" => C.RuntimeTopK,
        "Sampling.TopP" => C.RuntimeTopP,
        "Sampling.Temperature" => C.Temperature,
        "Sampling.RepetitionPenalty" => C.RepetitionPenalty,
        "Sampling.PresencePenalty" => C.PresencePenalty,
        "Sampling.FrequencyPenalty" => C.FrequencyPenalty,
        "Sampling.MinNewTokens" => C.MinLength,
        "Sampling.LogitBias" => C.EmbeddingBias,
        // A field added to the request without a tensor here: still name it, rather than fail while reporting a failure.
        _ => field,
    };

    // Triton words a bad input "Input 'name': ..."; the field violation names the tensor for code that reads details.
    private static Google.Rpc.Status Invalid(string tensor, string message) => WithViolation(tensor, $"Input '{tensor}': {message}", message);

    private static Google.Rpc.Status WithViolation(string tensor, string message, string description)
    {
        var status = Plain(Grpc.Core.StatusCode.InvalidArgument, message);
        status.Details.Add(Google.Protobuf.WellKnownTypes.Any.Pack(new BadRequest
        {
            FieldViolations = { new BadRequest.Types.FieldViolation { Field = tensor, Description = description } },
        }));
        return status;
    }

    private static Google.Rpc.Status Plain(Grpc.Core.StatusCode code, string message) => new() { Code = (int)code, Message = message };

    /// <summary>The text of an in-band stream error: the status name first ("INVALID_ARGUMENT: ..."), so clients can recover the code that ModelStreamInferResponse has no field for.</summary>
    public static string StreamErrorMessage(Google.Rpc.Status status) => $"{StatusNames.Of((Grpc.Core.StatusCode)status.Code)}: {status.Message}";
}
