using GptjAspire.GrpcTransport.Tests.Testing;
using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Calls;

public sealed class ErrorStatusTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private const string Vietnamese = "Không tìm thấy mô hình “gptj” – thử lại sau 100% nhé";

    private GrpcChannel Channel => fixture.Channel;

    [Fact]
    public async Task Error_before_any_message_arrives_with_its_non_ascii_message()
    {
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { FailWithCode = (int)StatusCode.NotFound, FailWithMessage = Vietnamese });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(Vietnamese, error.Status.Detail);
        Assert.Equal(error.Status, call.GetStatus());
    }

    [Fact]
    public async Task Error_after_streamed_messages_arrives_in_trailers()
    {
        using var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count, new EchoRequest { ReplyCount = 3, FailWithCode = (int)StatusCode.ResourceExhausted, FailWithMessage = Vietnamese });
        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                received++;
            }
        });
        Assert.Equal(3, received);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(Vietnamese, error.Status.Detail);
    }

    [Fact]
    public async Task Status_set_on_the_context_by_a_returning_handler_reaches_the_client()
    {
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo,
            new EchoRequest { FailViaContextStatus = true, FailWithCode = (int)StatusCode.FailedPrecondition, FailWithMessage = "mô hình chưa sẵn sàng" });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(new Status(StatusCode.FailedPrecondition, "mô hình chưa sẵn sàng"), error.Status);
    }

    [Fact]
    public async Task Handler_exception_is_internal_and_hides_the_exception_text()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { ThrowException = true }));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail);
    }

    [Fact]
    public async Task Handler_exception_text_is_sent_when_detailed_errors_are_enabled()
    {
        await using var host = await TestHost.StartAsync(o => o.EnableDetailedErrors = true);
        using var channel = host.CreateChannel();
        var error = await Assert.ThrowsAsync<RpcException>(async () => await channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { ThrowException = true }));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("secret internal detail", error.Status.Detail);
    }

    [Fact]
    public async Task Unknown_method_of_a_known_service_is_unimplemented()
    {
        var method = new Method<EchoRequest, EchoReply>(MethodType.Unary, TestServiceMethods.ServiceName, "NoSuchMethod", EchoRequest.Parser, EchoReply.Parser);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Channel.AsyncUnaryCall(method, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("Method is unimplemented.", error.Status.Detail);
    }

    [Fact]
    public async Task Unknown_service_is_unimplemented()
    {
        var method = new Method<EchoRequest, EchoReply>(MethodType.Unary, "no.such.Service", "Echo", EchoRequest.Parser, EchoReply.Parser);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Channel.AsyncUnaryCall(method, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("Service is unimplemented.", error.Status.Detail);
    }

    [Fact]
    public async Task Request_larger_than_the_server_limit_is_resource_exhausted()
    {
        await using var host = await TestHost.StartAsync(o => o.MaxReceiveMessageSize = 1024);
        using var channel = host.CreateChannel();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[4096]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Response_larger_than_the_server_send_limit_is_resource_exhausted()
    {
        await using var host = await TestHost.StartAsync(o => o.MaxSendMessageSize = 1024);
        using var channel = host.CreateChannel();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { ReplyPayloadSize = 4096 }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Response_larger_than_the_client_limit_is_resource_exhausted()
    {
        using var channel = fixture.Host.CreateChannel(new GrpcChannelOptions { MaxReceiveMessageSize = 1024 });
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { ReplyPayloadSize = 4096 }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Request_larger_than_the_client_send_limit_fails_without_sending()
    {
        using var channel = fixture.Host.CreateChannel(new GrpcChannelOptions { MaxSendMessageSize = 1024 });
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[4096]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }
}
