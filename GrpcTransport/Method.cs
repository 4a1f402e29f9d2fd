using Google.Protobuf;

namespace GptjAspire.GrpcTransport;

/// <summary>How many messages flow each way in a call.</summary>
public enum MethodType
{
    Unary,
    ClientStreaming,
    ServerStreaming,
    DuplexStreaming,
}

/// <summary>Describes one RPC method: its kind, its names and how to parse its messages.</summary>
public sealed class Method<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    public Method(MethodType type, string serviceName, string name, MessageParser<TRequest> requestParser, MessageParser<TResponse> responseParser)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Type = type;
        ServiceName = serviceName;
        Name = name;
        RequestParser = requestParser;
        ResponseParser = responseParser;
        FullName = $"/{serviceName}/{name}";
    }

    public MethodType Type { get; }

    /// <summary>Fully qualified service name, e.g. "grpc.health.v1.Health".</summary>
    public string ServiceName { get; }

    public string Name { get; }

    /// <summary>The HTTP/2 path of the method, "/service/name".</summary>
    public string FullName { get; }

    public MessageParser<TRequest> RequestParser { get; }

    public MessageParser<TResponse> ResponseParser { get; }
}
