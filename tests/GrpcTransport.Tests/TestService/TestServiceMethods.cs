using GptjAspire.GrpcTransport.Tests.Testing;

namespace GptjAspire.GrpcTransport.Tests.TestService;

/// <summary>Method descriptors of transport.testing.v1.TestService.</summary>
public static class TestServiceMethods
{
    public const string ServiceName = "transport.testing.v1.TestService";

    public static readonly Method<EchoRequest, EchoReply> Echo = new(MethodType.Unary, ServiceName, "Echo", EchoRequest.Parser, EchoReply.Parser);
    public static readonly Method<EchoRequest, EchoReply> Count = new(MethodType.ServerStreaming, ServiceName, "Count", EchoRequest.Parser, EchoReply.Parser);
    public static readonly Method<EchoRequest, EchoReply> Collect = new(MethodType.ClientStreaming, ServiceName, "Collect", EchoRequest.Parser, EchoReply.Parser);
    public static readonly Method<EchoRequest, EchoReply> Chat = new(MethodType.DuplexStreaming, ServiceName, "Chat", EchoRequest.Parser, EchoReply.Parser);
    public static readonly Method<CallEndRequest, CallEnd> WaitForCallEnd = new(MethodType.Unary, ServiceName, "WaitForCallEnd", CallEndRequest.Parser, CallEnd.Parser);
}
