namespace GptjAspire.GrpcTransport;

/// <summary>Server-wide gRPC settings, configured through <c>AddGrpcTransport</c>.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED. Null means no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Largest response message sent; larger ones end the call with RESOURCE_EXHAUSTED. Null means no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>When true, a handler's exception text is sent to the client in grpc-message (for development only).</summary>
    public bool EnableDetailedErrors { get; set; }
}
