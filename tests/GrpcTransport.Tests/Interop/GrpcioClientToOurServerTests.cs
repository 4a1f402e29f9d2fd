using System.Text.Json;

namespace GptjAspire.GrpcTransport.Tests.Interop;

/// <summary>A grpcio (C-core) client against our server; the Python side reports what it saw, the assertions are here.</summary>
public sealed class GrpcioClientToOurServerTests(GrpcioPeerFixture fixture) : IClassFixture<GrpcioPeerFixture>
{
    private const string Vietnamese = "Không tìm thấy mô hình “gptj” – kiểm tra lại 100%";

    private Task<JsonElement> Run(string scenario, params string[] args) => fixture.Peer.RunClientAsync(fixture.Host.Address, scenario, args);

    [Fact]
    public async Task Unary_call_round_trips()
    {
        var result = await Run("unary", "xin chào");
        Assert.Equal("xin chào", result.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Server_streaming_delivers_every_message()
    {
        var result = await Run("server_streaming", "25");
        Assert.Equal(Enumerable.Range(0, 25), result.GetProperty("indexes").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("OK", result.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Client_streaming_collects_all_requests()
    {
        var result = await Run("client_streaming", "một", "hai", "ba");
        Assert.Equal("một hai ba", result.GetProperty("text").GetString());
        Assert.Equal(3, result.GetProperty("index").GetInt32());
    }

    [Fact]
    public async Task Bidi_answers_every_request()
    {
        var result = await Run("bidi", "a", "b", "c", "d");
        Assert.Equal(["a", "b", "c", "d"], result.GetProperty("texts").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("OK", result.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Grpcio_deadline_reaches_our_handler_as_cancellation()
    {
        var result = await Run("deadline", "1.0");
        Assert.Equal("DEADLINE_EXCEEDED", result.GetProperty("code").GetString());
        Assert.True(result.GetProperty("server_cancelled").GetBoolean());
    }

    [Fact]
    public async Task Grpcio_cancelling_mid_stream_is_seen_by_our_handler()
    {
        var result = await Run("cancel");
        Assert.Equal(0, result.GetProperty("first_index").GetInt32());
        Assert.Equal("CANCELLED", result.GetProperty("code").GetString());
        Assert.True(result.GetProperty("server_cancelled").GetBoolean());
    }

    [Fact]
    public async Task Error_status_with_a_vietnamese_message_round_trips()
    {
        var result = await Run("error", ((int)StatusCode.NotFound).ToString(System.Globalization.CultureInfo.InvariantCulture), Vietnamese);
        Assert.Equal("NOT_FOUND", result.GetProperty("code").GetString());
        Assert.Equal(Vietnamese, result.GetProperty("details").GetString());
    }

    [Fact]
    public async Task Metadata_travels_both_ways_including_binary()
    {
        var binary = Convert.ToBase64String([0, 1, 127, 128, 255]);
        var result = await Run("metadata", "hello ours", binary);
        foreach (var part in new[] { "initial", "trailing" })
        {
            Assert.Equal("hello ours", result.GetProperty(part).GetProperty("x-ascii").GetString());
            Assert.Equal(binary, result.GetProperty(part).GetProperty("x-data-bin").GetString());
        }
    }

    [Fact]
    public async Task A_20_MiB_message_round_trips()
    {
        var result = await Run("large", (20 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(20 * 1024 * 1024, result.GetProperty("size").GetInt32());
        Assert.True(result.GetProperty("equal").GetBoolean());
    }

    [Fact]
    public async Task Many_concurrent_calls_on_one_channel_succeed()
    {
        var result = await Run("concurrent", "200");
        Assert.Equal(200, result.GetProperty("matching").GetInt32());
    }

    [Fact]
    public async Task Grpcio_health_client_sees_our_health_service()
    {
        var result = await Run("health");
        Assert.Equal("SERVING", result.GetProperty("overall").GetString());
        Assert.Equal("NOT_FOUND", result.GetProperty("unknown_service").GetString());
        Assert.Equal("SERVING", result.GetProperty("watch_first").GetString());
    }
}
