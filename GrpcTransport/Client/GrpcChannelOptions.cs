namespace GptjAspire.GrpcTransport;

/// <summary>Settings of a <see cref="GrpcChannel"/>.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>Largest response message accepted; larger ones fail the call with RESOURCE_EXHAUSTED. Null means no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Largest request message sent; larger ones fail the call with RESOURCE_EXHAUSTED. Null means no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>A handler to send requests through instead of the channel's own HTTP/2 <see cref="System.Net.Http.SocketsHttpHandler"/>; the channel does not dispose it.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }
}
