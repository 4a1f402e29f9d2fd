using Google.Rpc;
using GptjAspire.Gptj.V1;
using Grpc.Core;

namespace GptjAspire.Gateway.Errors;

/// <summary>What the Preprocessor's <c>google.rpc.Status</c> details say about a failed call: its reason, the field at fault, when to retry.</summary>
/// <param name="Field">The first <c>BadRequest</c> field violation's field, as the Preprocessor's proto names it.</param>
public sealed record PreprocessorErrorDetails(ErrorReason? Reason, string? Field, TimeSpan? RetryDelay)
{
    /// <summary>The reasons' <c>ErrorInfo.domain</c>: the package of the proto that defines <see cref="ErrorReason"/>.</summary>
    public static readonly string Domain = PreprocessorReflection.Descriptor.Package;

    static readonly Google.Protobuf.Reflection.EnumDescriptor Reasons =
        PreprocessorReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>(nameof(ErrorReason));

    static readonly PreprocessorErrorDetails None = new(null, null, null);

    /// <summary>Reads the details trailer; a call without one (a proxy's status, a transport failure) has none.</summary>
    public static PreprocessorErrorDetails Read(RpcException error)
    {
        var status = error.GetRpcStatus();
        if (status is null)
            return None;
        var info = status.GetDetail<ErrorInfo>();
        // A reason of another domain, or one this build does not know, is no reason.
        var reason = info?.Domain == Domain && Reasons.FindValueByName(info.Reason) is { } value ? (ErrorReason?)value.Number : null;
        var field = status.GetDetail<BadRequest>()?.FieldViolations.FirstOrDefault()?.Field;
        var delay = status.GetDetail<RetryInfo>()?.RetryDelay?.ToTimeSpan();
        return new PreprocessorErrorDetails(reason, string.IsNullOrEmpty(field) ? null : field, delay > TimeSpan.Zero ? delay : null);
    }
}
