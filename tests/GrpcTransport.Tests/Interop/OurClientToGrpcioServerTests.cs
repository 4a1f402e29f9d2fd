using Google.Protobuf;
using GptjAspire.GrpcTransport.Tests.Testing;
using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Interop;

/// <summary>Our client against a grpcio (C-core) server.</summary>
public sealed class OurClientToGrpcioServerTests(GrpcioPeerFixture fixture) : IClassFixture<GrpcioPeerFixture>
{
    private const string Vietnamese = "Mô hình đang quá tải, vui lòng thử lại sau – 100% “bận”";

    private GrpcChannel Channel => fixture.ChannelToGrpcio;

    [Fact]
    public async Task Unary_call_round_trips()
    {
        var reply = await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Text = "xin chào" });
        Assert.Equal("xin chào", reply.Text);
    }

    [Fact]
    public async Task Server_streaming_delivers_every_message()
    {
        using var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count, new EchoRequest { ReplyCount = 20 });
        var indexes = new List<int>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            indexes.Add(reply.Index);
        }
        Assert.Equal(Enumerable.Range(0, 20), indexes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming_collects_all_requests()
    {
        using var call = Channel.AsyncClientStreamingCall(TestServiceMethods.Collect);
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "một" });
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "hai" });
        await call.RequestStream.CompleteAsync();
        Assert.Equal("một hai", (await call).Text);
    }

    [Fact]
    public async Task Bidi_answers_each_request_in_turn()
    {
        using var call = Channel.AsyncDuplexStreamingCall(TestServiceMethods.Chat);
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal($"m{i}", call.ResponseStream.Current.Text);
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Our_deadline_is_enforced_and_the_grpcio_server_sees_the_call_end()
    {
        var callId = Guid.NewGuid().ToString();
        // Connect first, so the deadline can only pass while the call is on the server.
        await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest());
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Channel.AsyncUnaryCall(TestServiceMethods.Echo,
            new EchoRequest { CallId = callId, ReplyIntervalMs = 60_000 }, new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(1))));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(await ServerSawCancellation(callId));
    }

    [Fact]
    public async Task Cancelling_mid_stream_is_seen_by_the_grpcio_server()
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
    public async Task Error_status_with_a_vietnamese_message_round_trips()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await Channel.AsyncUnaryCall(TestServiceMethods.Echo,
            new EchoRequest { FailWithCode = (int)StatusCode.ResourceExhausted, FailWithMessage = Vietnamese }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(Vietnamese, error.Status.Detail);
    }

    [Fact]
    public async Task Metadata_travels_both_ways_including_binary()
    {
        var binary = new byte[] { 0, 1, 127, 128, 255 };
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest(),
            new CallOptions(new Metadata { { "x-ascii", "hello grpcio" }, { "x-data-bin", binary } }));
        await call;
        var headers = await call.ResponseHeadersAsync;
        Assert.Equal("hello grpcio", headers.GetValue("x-ascii"));
        Assert.Equal(binary, headers.GetValueBytes("x-data-bin"));
        Assert.Equal("hello grpcio", call.GetTrailers().GetValue("x-ascii"));
        Assert.Equal(binary, call.GetTrailers().GetValueBytes("x-data-bin"));
    }

    [Fact]
    public async Task A_20_MiB_message_round_trips()
    {
        var payload = new byte[20 * 1024 * 1024];
        new Random(11).NextBytes(payload);
        var reply = await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Payload = ByteString.CopyFrom(payload) });
        Assert.True(reply.Payload.Span.SequenceEqual(payload));
    }

    [Fact]
    public async Task Many_concurrent_calls_on_one_channel_succeed()
    {
        var texts = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
            (await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Text = $"call {i}", ReplyIntervalMs = 20 })).Text));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"call {i}"), texts);
    }

    private async Task<bool> ServerSawCancellation(string callId)
    {
        // The bound only keeps a broken peer from hanging the run.
        var end = await Channel.AsyncUnaryCall(TestServiceMethods.WaitForCallEnd, new CallEndRequest { CallId = callId },
            new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(30)));
        return end.Cancelled;
    }
}
