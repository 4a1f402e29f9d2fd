using GptjAspire.Gptj.V1;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Tensors;
using Grpc.Core;

namespace GptjAspire.Preprocessor.Errors;

/// <summary>
/// The one mapping from what the backend did to what this service answers, by meaning: the backend only ever sees
/// requests the Preprocessor built and checked, so a request it refuses is the serving side's fault (INTERNAL), not the
/// caller's; overload and unavailability stay retryable. The backend's own text goes to the log and the trace only.
/// </summary>
public static class BackendFailures
{
    public const string FailedMessage = "The model backend failed to process this request.";
    public const string MalformedMessage = "The model backend's output was malformed: it does not fit the generation tensor contract.";
    public const string OverloadedMessage = "The model backend is at capacity; retry later.";
    public const string UnavailableMessage = "The model backend is not available; retry later.";
    public const string DeadlineMessage = "The model backend did not finish within the request's deadline.";

    /// <summary>The status this service answers for a failed backend call (<see cref="TritonException"/>, already classified
    /// by meaning) or backend output that does not fit the contract (<see cref="TensorFormatException"/>); null for anything else.</summary>
    public static RpcException? Map(Exception error) => error switch
    {
        TritonException backend => backend.StatusCode switch
        {
            StatusCode.ResourceExhausted => RpcErrors.Retryable(StatusCode.ResourceExhausted, OverloadedMessage, ErrorReason.BackendOverloaded),
            StatusCode.Unavailable => RpcErrors.Retryable(StatusCode.Unavailable, UnavailableMessage, ErrorReason.BackendUnavailable),
            StatusCode.DeadlineExceeded => RpcErrors.Create(StatusCode.DeadlineExceeded, DeadlineMessage, ErrorReason.BackendDeadlineExceeded),
            // INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, UNIMPLEMENTED, INTERNAL, UNKNOWN, an early end, ...
            _ => RpcErrors.Create(StatusCode.Internal, FailedMessage, ErrorReason.BackendFailed),
        },
        TensorFormatException => RpcErrors.Create(StatusCode.Internal, MalformedMessage, ErrorReason.BackendOutputMalformed),
        _ => null,
    };

    /// <summary>The model is not ready (the monitor's last probe, or a call that lost the backend): retry once it is.</summary>
    public static RpcException NotReady() =>
        RpcErrors.Retryable(StatusCode.Unavailable, UnavailableMessage, ErrorReason.BackendUnavailable);
}
