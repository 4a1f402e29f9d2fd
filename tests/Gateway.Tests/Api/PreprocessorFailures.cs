using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Failures as the Preprocessor sends them: a gRPC status with google.rpc.Status details (ErrorInfo in domain gptj.v1, then BadRequest or RetryInfo).</summary>
public static class PreprocessorFailures
{
    public static RpcException Invalid(string field, string message, string reason = "INVALID_FIELD") =>
        Create(Grpc.Core.StatusCode.InvalidArgument, message, reason,
            new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = message } } });

    public static RpcException Retryable(Grpc.Core.StatusCode code, string message, string reason, TimeSpan retryDelay) =>
        Create(code, message, reason, new RetryInfo { RetryDelay = Duration.FromTimeSpan(retryDelay) });

    public static RpcException Create(Grpc.Core.StatusCode code, string message, string reason, params IMessage[] details)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.Add(Any.Pack(new ErrorInfo { Domain = "gptj.v1", Reason = reason }));
        foreach (var detail in details)
            status.Details.Add(Any.Pack(detail));
        return status.ToRpcException();
    }
}
