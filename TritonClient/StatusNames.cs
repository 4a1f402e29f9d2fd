using Grpc.Core;

namespace GptjAspire.TritonClient;

/// <summary>The canonical gRPC status names ("INVALID_ARGUMENT"), used to carry a status code inside a stream's error_message text.</summary>
public static class StatusNames
{
    /// <summary>
    /// The text Triton puts in a refusal for a full scheduler queue ("[request id: X] Exceeds maximum queue size"),
    /// in-band on a stream or as the status of a call (there with code UNAVAILABLE, which would read as a lost backend).
    /// </summary>
    public const string TritonQueueFullText = "Exceeds maximum queue size";

    /// <summary>The status by meaning: Triton's queue-full refusal, whatever code carries it, is RESOURCE_EXHAUSTED (overload, retry later).</summary>
    public static Status Classify(Status status) =>
        status.StatusCode != StatusCode.ResourceExhausted && status.Detail.Contains(TritonQueueFullText, StringComparison.Ordinal)
            ? new Status(StatusCode.ResourceExhausted, status.Detail)
            : status;

    /// <summary>The canonical upper-case name of a status code.</summary>
    public static string Of(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };

    /// <summary>Splits "CODE: detail" into its status; text without a known code prefix (as real Triton sends) is UNKNOWN with the whole text; either way <see cref="Classify"/> has the last word.</summary>
    public static Status ParseStreamError(string errorMessage)
    {
        var colon = errorMessage.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0)
        {
            var prefix = errorMessage[..colon];
            foreach (var code in Enum.GetValues<StatusCode>())
            {
                if (code != StatusCode.OK && Of(code) == prefix)
                {
                    return Classify(new Status(code, errorMessage[(colon + 2)..]));
                }
            }
        }
        return Classify(new Status(StatusCode.Unknown, errorMessage));
    }
}
