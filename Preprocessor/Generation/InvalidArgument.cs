using Google.Rpc;
using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Errors;
using Grpc.Core;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>Builds the INVALID_ARGUMENT a bad request gets: a <c>BadRequest</c> field violation naming the field as this
/// service's proto names it (callers translate it to their own API's name) and an <c>ErrorInfo</c> reason.</summary>
/// <remarks>The message is read by people through any API in front of this one, so it names no proto field: the
/// violation carries the field.</remarks>
public static class InvalidArgument
{
    public static RpcException For(string field, string message, ErrorReason reason = ErrorReason.InvalidField) =>
        RpcErrors.Create(StatusCode.InvalidArgument, message, reason, new BadRequest
        {
            FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = message } },
        });
}
