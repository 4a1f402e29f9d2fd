using Grpc.Core;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>Builds the INVALID_ARGUMENT a bad request gets, naming the field in the <c>gptj-field</c> trailer so the Gateway can report it as a 400 on that field.</summary>
public static class InvalidArgument
{
    public const string FieldTrailer = "gptj-field";

    public static RpcException For(string field, string message)
    {
        var trailers = new Metadata { { FieldTrailer, field } };
        return new RpcException(new Status(StatusCode.InvalidArgument, message), trailers);
    }
}
