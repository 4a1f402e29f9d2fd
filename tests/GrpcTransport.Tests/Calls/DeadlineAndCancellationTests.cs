using GptjAspire.GrpcTransport.Tests.Testing;
using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Calls;

public sealed class DeadlineAndCancellationTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private GrpcChannel Channel => fixture.Channel;

    [Fact]
    public async Task Deadline_exceeded_ends_the_call_and_cancels_the_handler()
    {
        var callId = Guid.NewGuid().ToString();
        // Connect first, so the deadline can only pass while the call is on the server.
        await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest());
        var deadline = DateTime.UtcNow.AddSeconds(1);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { CallId = callId, ReplyIntervalMs = 60_000 }, new CallOptions(Deadline: deadline)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(await ServerSawCancellation(callId));
    }

    [Fact]
    public async Task Deadline_already_past_fails_without_reaching_the_server()
    {
        var callId = Guid.NewGuid().ToString();
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { CallId = callId }, new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(-1)));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        // The same id is then used by a call that does reach the server: the first one never did.
        await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { CallId = callId });
        Assert.False(await ServerSawCancellation(callId));
    }

    [Fact]
    public async Task Cancelling_the_token_mid_stream_resets_the_stream_and_the_server_sees_it()
    {
        var callId = Guid.NewGuid().ToString();
        using var cancellation = new CancellationTokenSource();
        using var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count,
            new EchoRequest { CallId = callId, ReplyCount = 1000, ReplyIntervalMs = 20 }, new CallOptions(CancellationToken: cancellation.Token));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        cancellation.Cancel();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.True(await ServerSawCancellation(callId));
    }

    [Fact]
    public async Task Disposing_an_unfinished_call_cancels_it_on_the_server()
    {
        var callId = Guid.NewGuid().ToString();
        var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count, new EchoRequest { CallId = callId, ReplyCount = 1000, ReplyIntervalMs = 20 });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        call.Dispose();
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        Assert.True(await ServerSawCancellation(callId));
    }

    [Fact]
    public async Task Cancelling_a_read_token_cancels_the_call()
    {
        using var call = Channel.AsyncDuplexStreamingCall(TestServiceMethods.Chat);
        using var cancellation = new CancellationTokenSource();
        var read = call.ResponseStream.MoveNext(cancellation.Token);
        cancellation.Cancel();
        var error = await Assert.ThrowsAsync<RpcException>(() => read);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await Assert.ThrowsAsync<RpcException>(() => call.RequestStream.WriteAsync(new EchoRequest()));
    }

    private async Task<bool> ServerSawCancellation(string callId)
    {
        var end = await Channel.AsyncUnaryCall(TestServiceMethods.WaitForCallEnd, new CallEndRequest { CallId = callId });
        return end.Cancelled;
    }
}
