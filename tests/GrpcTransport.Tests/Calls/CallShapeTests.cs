using GptjAspire.GrpcTransport.Tests.Testing;
using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Calls;

public sealed class CallShapeTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private GrpcChannel Channel => fixture.Channel;

    [Fact]
    public async Task Unary_call_returns_the_reply_and_ok_status()
    {
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Text = "xin chào" });
        var reply = await call;
        Assert.Equal("xin chào", reply.Text);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Server_streaming_delivers_every_message_in_order()
    {
        using var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count, new EchoRequest { Text = "n", ReplyCount = 50 });
        var indexes = new List<int>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            indexes.Add(reply.Index);
        }
        Assert.Equal(Enumerable.Range(0, 50), indexes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Server_streaming_with_no_messages_ends_ok()
    {
        using var call = Channel.AsyncServerStreamingCall(TestServiceMethods.Count, new EchoRequest { ReplyCount = 0 });
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming_collects_all_requests()
    {
        using var call = Channel.AsyncClientStreamingCall(TestServiceMethods.Collect);
        foreach (var word in new[] { "một", "hai", "ba" })
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = word });
        }
        await call.RequestStream.CompleteAsync();
        var reply = await call;
        Assert.Equal("một hai ba", reply.Text);
        Assert.Equal(3, reply.Index);
    }

    [Fact]
    public async Task Duplex_answers_each_request_before_the_next_is_sent()
    {
        using var call = Channel.AsyncDuplexStreamingCall(TestServiceMethods.Chat);
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal($"m{i}", call.ResponseStream.Current.Text);
            Assert.Equal(i, call.ResponseStream.Current.Index);
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Metadata_travels_both_ways_as_headers_and_trailers()
    {
        var binary = new byte[] { 0, 1, 2, 250, 255 };
        var headers = new Metadata { { "x-ascii", "hello world" }, { "x-data-bin", binary } };
        using var call = Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest(), new CallOptions(headers));
        await call;
        var responseHeaders = await call.ResponseHeadersAsync;
        Assert.Equal("hello world", responseHeaders.GetValue("x-ascii"));
        Assert.Equal(binary, responseHeaders.GetValueBytes("x-data-bin"));
        Assert.Equal("hello world", call.GetTrailers().GetValue("x-ascii"));
        Assert.Equal(binary, call.GetTrailers().GetValueBytes("x-data-bin"));
    }

    [Fact]
    public async Task A_20_MiB_message_round_trips_both_ways()
    {
        var payload = new byte[20 * 1024 * 1024];
        new Random(7).NextBytes(payload);
        var reply = await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(payload) });
        Assert.True(reply.Payload.Span.SequenceEqual(payload));
    }

    [Fact]
    public async Task Many_concurrent_calls_on_one_channel_all_succeed()
    {
        var calls = Enumerable.Range(0, 300).Select(async i =>
        {
            var reply = await Channel.AsyncUnaryCall(TestServiceMethods.Echo, new EchoRequest { Text = $"call {i}", ReplyIntervalMs = 20 });
            return reply.Text;
        });
        var texts = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"call {i}"), texts);
    }
}
