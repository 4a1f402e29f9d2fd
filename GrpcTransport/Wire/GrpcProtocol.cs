namespace GptjAspire.GrpcTransport.Wire;

/// <summary>Header names and values fixed by the gRPC over HTTP/2 specification (PROTOCOL-HTTP2.md).</summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string IdentityEncoding = "identity";
    public const string TeHeader = "te";
    public const string TeTrailers = "trailers";
    public const string UserAgent = "grpc-dotnet-gptjaspire/1.0";

    /// <summary>Compressed-Flag (1 byte) + Message-Length (4 bytes, big-endian).</summary>
    public const int FrameHeaderSize = 5;

    /// <summary>Content-Type is "application/grpc" optionally followed by "+proto", "+json", ";..." .</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }

    /// <summary>Headers that the transport owns and that are therefore not part of call metadata.</summary>
    public static bool IsReservedHeader(string name) =>
        name.StartsWith(':')
        || name is "content-type" or "te" or "content-length" or "host" or "transfer-encoding" or "connection"
            or TimeoutHeader or EncodingHeader or AcceptEncodingHeader or StatusHeader or MessageHeader;
}
