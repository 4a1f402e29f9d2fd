using System.Net;
using System.Text;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

public sealed class RequestBodyTests
{
    [Fact]
    public async Task Body_that_is_not_utf8_is_400_naming_the_byte_offset()
    {
        await using var host = await GatewayHost.StartAsync();
        byte[] body = [.. """{"text": "Vi"""u8, 0xC3, 0x28, .. """t"}"""u8];

        using var response = await host.Client.PostAsync("/predict", Bytes(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The request body is not valid UTF-8 (invalid byte sequence at byte 12).",
            (await response.ReadJsonAsync()).GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"text": "a",}""", "the syntax is broken at line 1, byte 14 of that line.")]
    [InlineData("""{"text": "a" // a comment""", "the syntax is broken at line 1, byte 14 of that line.")]
    [InlineData("{\n  \"prompt\": tru\n}", "the syntax is broken at line 2, byte 16 of that line.")]
    [InlineData("not json", "the syntax is broken at line 1, byte 2 of that line.")]
    [InlineData("""{"text": "a" """, "it ends before the JSON value is complete.")]
    [InlineData(" ", "it ends before the JSON value is complete.")]
    public async Task Body_that_is_not_json_is_400_saying_where_in_the_gateways_words(string body, string where)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        // Not the parser's own text, which speaks of its options ("Change the reader options.", "isFinalBlock").
        Assert.Equal($"The request body is not valid JSON: {where}", (await response.ReadJsonAsync()).GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("[1, 2]", "an array")]
    [InlineData("\"text\"", "a string")]
    public async Task Body_that_is_not_an_object_is_400(string body, string kind)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"The request body must be a JSON object, not {kind}.",
            (await response.ReadJsonAsync()).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Empty_body_is_400()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json(""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The request body is empty; send a JSON object.",
            (await response.ReadJsonAsync()).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Body_over_the_limit_is_413_stating_the_limit()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:MaxRequestBodyBytes"] = "1000" });
        var text = new string('ă', 2000);

        using var response = await host.Client.PostAsync("/predict", Json($$"""{"text": "{{text}}"}"""));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("The request body is larger than the limit of 1000 bytes.", error.GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Chunked_body_over_the_limit_is_413_too()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:MaxRequestBodyBytes"] = "1000" });
        var body = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"text": "{{new string('a', 5000)}}"}""")));
        body.Headers.ContentType = new("application/json");

        using var response = await host.Client.PostAsync("/predict", body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Bodies_read_into_reused_buffers_reach_the_preprocessor_exactly_chunked_or_sized()
    {
        await using var host = await GatewayHost.StartAsync();
        // Many times the first buffer of a chunked body, so it grows; then shorter bodies, which must not see its bytes.
        var longPrompt = string.Concat(Enumerable.Repeat("Hà Nội mùa thu, ", 5000));
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"prompt": "{{longPrompt}}", "max_tokens": 1}""")), 1000);
        chunked.Headers.ContentType = new("application/json");

        using (var response = await host.Client.PostAsync("/v1/completions", chunked))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "Huế", "max_tokens": 1}""")))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var shortChunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("""{"prompt": "Đà Lạt", "max_tokens": 1}""")));
        shortChunked.Headers.ContentType = new("application/json");
        using (var response = await host.Client.PostAsync("/v1/completions", shortChunked))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal([longPrompt, "Huế", "Đà Lạt"], host.Preprocessor.Requests.Select(r => r.Prompt));
    }

    [Fact]
    public async Task Body_declared_as_something_else_than_json_is_415()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", new StringContent("text=a", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("unsupported_media_type", (await response.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_compressed_body_is_415_naming_the_encoding_and_reaches_no_model()
    {
        await using var host = await GatewayHost.StartAsync();
        using var packed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest))
            gzip.Write(Encoding.UTF8.GetBytes("""{"prompt": "a"}"""));
        using var body = new ByteArrayContent(packed.ToArray());
        body.Headers.ContentType = new("application/json");
        body.Headers.ContentEncoding.Add("gzip");

        using var response = await host.Client.PostAsync("/v1/completions", body);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("Content-Encoding 'gzip' is not supported; send the JSON body uncompressed.", error.GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Unknown_path_and_wrong_method_get_the_same_error_body()
    {
        await using var host = await GatewayHost.StartAsync();

        using var unknown = await host.Client.PostAsync("/v1/embeddings", Json("{}"));
        using var wrongMethod = await host.Client.GetAsync("/predict");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("Unknown path: POST /v1/embeddings.", (await unknown.ReadJsonAsync()).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("method_not_allowed", (await wrongMethod.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }
}
