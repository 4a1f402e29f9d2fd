using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using GptjAspire.Gptj.V1;
using Grpc.Core;

namespace GptjAspire.Preprocessor.Errors;

/// <summary>Builds the failures this service answers with: a gRPC status carrying <c>google.rpc.Status</c> details, an <c>ErrorInfo</c> first.</summary>
/// <remarks>Callers read the code and the details (AIP-193), not the message, which is written for a person.</remarks>
public static class RpcErrors
{
    /// <summary>The <c>ErrorInfo.domain</c> of every reason: the package of the proto that defines <see cref="ErrorReason"/>.</summary>
    public static readonly string Domain = PreprocessorReflection.Descriptor.Package;

    /// <summary>How long a caller should wait before retrying an overloaded or unavailable backend: the monitor's readiness
    /// poll runs every 0.5 s while the backend is down, and a full queue drains in about a step's time.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    static readonly Google.Protobuf.Reflection.EnumDescriptor Reasons =
        PreprocessorReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>(nameof(ErrorReason));

    /// <summary>The reason as <c>ErrorInfo.reason</c> spells it: the enum value's name in the proto.</summary>
    public static string Name(ErrorReason reason) => Reasons.FindValueByNumber((int)reason).Name;

    public static RpcException Create(Grpc.Core.StatusCode code, string message, ErrorReason reason, params IMessage[] details)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.Add(Any.Pack(new ErrorInfo { Reason = Name(reason), Domain = Domain }));
        foreach (var detail in details)
            status.Details.Add(Any.Pack(detail));
        return status.ToRpcException();
    }

    /// <summary>A failure the caller may retry after <see cref="RetryDelay"/>.</summary>
    public static RpcException Retryable(Grpc.Core.StatusCode code, string message, ErrorReason reason) =>
        Create(code, message, reason, new RetryInfo { RetryDelay = Duration.FromTimeSpan(RetryDelay) });
}
