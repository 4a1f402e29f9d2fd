using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using GptjAspire.GrpcTransport.Tests.Testing;
using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Calls;

/// <summary>Requests built by hand, to pin down what the server answers to things our own client never sends.</summary>
public sealed class ProtocolEdgeTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task Unsupported_grpc_encoding_is_unimplemented_and_names_identity()
    {
        using var response = await SendAsync(Frame(new EchoRequest { Text = "x" }), request => request.Headers.Add("grpc-encoding", "gzip"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("12", Header(response, "grpc-status"));
        Assert.Equal("identity", Header(response, "grpc-accept-encoding"));
    }

    [Fact]
    public async Task Identity_grpc_encoding_is_accepted()
    {
        using var response = await SendAsync(Frame(new EchoRequest { Text = "x" }), request => request.Headers.Add("grpc-encoding", "identity"));
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
    }

    [Fact]
    public async Task Compressed_flag_without_an_encoding_is_internal()
    {
        var frame = Frame(new EchoRequest { Text = "x" });
        frame[0] = 1;
        using var response = await SendAsync(frame);
        Assert.Equal("13", Header(response, "grpc-status"));
    }

    [Fact]
    public async Task Truncated_message_is_internal()
    {
        var frame = Frame(new EchoRequest { Text = "hello" });
        using var response = await SendAsync(frame[..^2]);
        Assert.Equal("13", Header(response, "grpc-status"));
    }

    [Fact]
    public async Task Malformed_grpc_timeout_is_invalid_argument()
    {
        using var response = await SendAsync(Frame(new EchoRequest()), request => request.Headers.TryAddWithoutValidation("grpc-timeout", "soon"));
        Assert.Equal("3", Header(response, "grpc-status"));
    }

    [Fact]
    public async Task Non_grpc_content_type_is_refused_with_415()
    {
        using var response = await SendAsync(Frame(new EchoRequest()), request => request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Non_grpc_post_to_an_unmapped_path_is_not_found()
    {
        using var response = await SendAsync([], request =>
        {
            request.RequestUri = new Uri(fixture.Host.Address, "/v1/completions");
            request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(byte[] body, Action<HttpRequestMessage>? edit = null)
    {
        using var client = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Host.Address, TestServiceMethods.Echo.FullName))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        edit?.Invoke(request);
        return await client.SendAsync(request);
    }

    private static byte[] Frame(IMessage message)
    {
        var body = message.ToByteArray();
        var frame = new byte[5 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
        body.CopyTo(frame, 5);
        return frame;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;
}
