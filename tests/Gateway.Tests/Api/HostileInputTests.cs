using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Malformed and hostile requests: each gets the OpenAI-shaped JSON error with a 4xx naming the problem, never a 500 or an empty body, and reaches no model.</summary>
public sealed class HostileInputTests
{
    static async Task<JsonElement> RejectedAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: '{body}'");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("error").Clone();
    }

    static string? Param(JsonElement error) =>
        error.GetProperty("param").ValueKind == JsonValueKind.String ? error.GetProperty("param").GetString() : null;

    [Theory]
    [InlineData("/predict", """{"text": "a", "\ud800": 1}""", null, "A field name in the request body contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/predict", """{"\udc00x": "a"}""", null, "A field name in the request body contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": "a", "\ud800": 1}""", null, "A field name in the request body contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": "a", "stream": true, "stream_options": {"\ud800": true}}""", "stream_options", "A field name in 'stream_options' contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": "a", "suffix": "\ud800"}""", "suffix", "'suffix' contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": ["a", "b\udfff"]}""", "prompt[1]", "'prompt[1]' contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": ["\ud800"]}""", "stop[0]", "'stop[0]' contains an escaped unpaired UTF-16 surrogate")]
    [InlineData("/v1/completions", """{"prompt": "a", "user": "\ud83d"}""", "user", "'user' contains an escaped unpaired UTF-16 surrogate")]
    public async Task Escaped_unpaired_surrogate_anywhere_is_400_naming_where(string path, string body, string? param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync(path, Json(body));

        var error = await RejectedAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(param, Param(error));
        Assert.StartsWith(message, error.GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "a", "temperature": 1e400}""", "temperature", "'temperature' must be a finite number; got 1e400.")]
    [InlineData("/v1/completions", """{"prompt": "a", "repetition_penalty": -1e400}""", "repetition_penalty", "'repetition_penalty' must be a finite number; got -1e400.")]
    [InlineData("/predict", """{"text": "a", "top_p": 1e400}""", "top_p", "'top_p' must be a finite number; got 1e400.")]
    [InlineData("/v1/completions", """{"prompt": "a", "n": 1e300}""", "n", "'n' must be between 1 and 16; got 1e300.")]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": 99999999999999999999}""", "max_tokens", "'max_tokens' must be between 1 and 2047; got 99999999999999999999.")]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": 9223372036854775807}""", "max_tokens", "'max_tokens' must be between 1 and 2047; got 9223372036854775807.")]
    [InlineData("/v1/completions", """{"prompt": "a", "seed": 1e30}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got 1e30.")]
    [InlineData("/v1/completions", """{"prompt": "a", "seed": 18446744073709551616}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got 18446744073709551616.")]
    [InlineData("/predict", """{"text": "a", "top_k": 1e19}""", "top_k", "'top_k' must be between 0 and 2147483647; got 1e19.")]
    [InlineData("/predict", """{"text": "a", "n_samples": -9007199254740993}""", "n_samples", "'n_samples' must be between 1 and 16; got -9007199254740993.")]
    public async Task Number_out_of_any_range_is_400_quoting_it(string path, string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync(path, Json(body));

        var error = await RejectedAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal((param, message), (Param(error), error.GetProperty("message").GetString()));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("""{"prompt": "a", "n": [1]}""", "n", "'n' must be an integer, not an array.")]
    [InlineData("""{"prompt": "a", "stop": [["x"]]}""", "stop", "'stop[0]' must be a string, not an array.")]
    [InlineData("""{"prompt": "a", "model": 5}""", "model", "'model' must be a string, not a number.")]
    [InlineData("""{"prompt": "a", "stream_options": {"include_usage": true}, "stream": true, "logit_bias": [50256]}""", "logit_bias", "'logit_bias' must be an object of token ids to biases, not an array.")]
    [InlineData("""{"prompt": "a", "logit_bias": {"-1": 5}}""", "logit_bias", "'logit_bias' keys must be token ids (integers from 0); got '-1'.")]
    [InlineData("""{"prompt": "a", "logit_bias": {"50256": -101}}""", "logit_bias", "'logit_bias[50256]' must be a number from -100 to 100; got -101.")]
    [InlineData("""{"prompt": "a", "logit_bias": {"7": "5"}}""", "logit_bias", "'logit_bias[7]' must be a number from -100 to 100; got \"5\".")]
    [InlineData("""{"prompt": "a", "stream": true, "stream_options": {"include_usage": "yes"}}""", "stream_options.include_usage", "'stream_options.include_usage' must be a boolean, not a string.")]
    [InlineData("""{"prompt": "a", "stream": true, "stream_options": []}""", "stream_options", "'stream_options' must be an object, not an array.")]
    [InlineData("""{"prompt": true}""", "prompt", "'prompt' must be a string, an array of strings, an array of token ids or an array of token-id arrays, not a boolean.")]
    [InlineData("""{"prompt": "a", "temperature": {}}""", "temperature", "'temperature' must be a number, not an object.")]
    public async Task Wrong_type_is_400_naming_the_field_and_the_type(string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json(body));

        var error = await RejectedAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal((param, message), (Param(error), error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0xAF })] // overlong '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a UTF-16 surrogate encoded as UTF-8
    [InlineData(new byte[] { 0x80 })] // a lone continuation byte
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // beyond U+10FFFF
    [InlineData(new byte[] { 0xE1, 0xBA })] // a truncated 'ạ'
    public async Task Body_with_invalid_utf8_is_400_naming_the_byte(byte[] bad)
    {
        await using var host = await GatewayHost.StartAsync();
        byte[] body = [.. """{"text": "Vi"""u8, .. bad, .. """t"}"""u8];

        using var response = await host.Client.PostAsync("/predict", Bytes(body));

        var error = await RejectedAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("The request body is not valid UTF-8 (invalid byte sequence at byte 12).", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(" ", "The request body is not valid JSON: ")]
    [InlineData("null", "The request body must be a JSON object, not null.")]
    [InlineData("{\"text\": \"a\"} {}", "The request body is not valid JSON: ")]
    [InlineData("{\"text\": NaN}", "The request body is not valid JSON: ")]
    [InlineData("{\"text\": \"a\", \"text\": \"b\"}", null)]
    public async Task Body_that_is_not_one_json_object_is_400(string body, string? message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json(body));

        if (message is null)
        {
            // A repeated field is legal JSON (RFC 8259 §4: names SHOULD be unique); the last one wins, as in Python.
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }
        Assert.StartsWith(message, (await RejectedAsync(response, HttpStatusCode.BadRequest)).GetProperty("message").GetString());
    }

    [Fact]
    public async Task Body_nested_deeper_than_16_levels_is_400()
    {
        await using var host = await GatewayHost.StartAsync();
        var body = $$"""{"text": "a", "x": {{new string('[', 40)}}{{new string(']', 40)}}}""";

        using var response = await host.Client.PostAsync("/predict", Json(body));

        Assert.Contains("depth", (await RejectedAsync(response, HttpStatusCode.BadRequest)).GetProperty("message").GetString());
    }

    [Fact]
    public async Task Text_of_a_megabyte_is_413_and_text_of_spaces_is_400()
    {
        await using var host = await GatewayHost.StartAsync();

        using var huge = await host.Client.PostAsync("/predict", Json($$"""{"text": "{{new string('a', 1024 * 1024)}}"}"""));
        using var blank = await host.Client.PostAsync("/predict", Json($$"""{"text": "{{new string(' ', 100_000)}}"}"""));

        Assert.Equal("payload_too_large", (await RejectedAsync(huge, HttpStatusCode.RequestEntityTooLarge)).GetProperty("code").GetString());
        Assert.Equal("text", Param(await RejectedAsync(blank, HttpStatusCode.BadRequest)));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData(null, "The request has no Content-Type; send the body as application/json.")]
    [InlineData("text/plain", "Content-Type must be application/json, not 'text/plain'.")]
    [InlineData("application/x-www-form-urlencoded", "Content-Type must be application/json, not 'application/x-www-form-urlencoded'.")]
    [InlineData("multipart/form-data; boundary=x", "Content-Type must be application/json, not 'multipart/form-data; boundary=x'.")]
    [InlineData("application/jsonp", "Content-Type must be application/json, not 'application/jsonp'.")]
    [InlineData("text/json", "Content-Type must be application/json, not 'text/json'.")]
    [InlineData("application/json; charset=utf-16", "The JSON body must be UTF-8, not charset 'utf-16'.")]
    [InlineData("application/json; charset=\"latin1\"", "The JSON body must be UTF-8, not charset 'latin1'.")]
    public async Task Post_without_a_json_content_type_is_415_and_reaches_no_model(string? contentType, string message)
    {
        await using var host = await GatewayHost.StartAsync();
        foreach (var path in new[] { "/predict", "/v1/completions" })
        {
            var content = new ByteArrayContent("""{"text": "a", "prompt": "a"}"""u8.ToArray());
            if (contentType is not null)
                content.Headers.TryAddWithoutValidation("Content-Type", contentType);

            using var response = await host.Client.PostAsync(path, content);

            var error = await RejectedAsync(response, HttpStatusCode.UnsupportedMediaType);
            Assert.Equal(("unsupported_media_type", message), (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
        }
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("Application/JSON; charset=UTF-8")]
    // RFC 9110 §5.6.6: a quoted parameter value is the same value.
    [InlineData("application/json;charset=\"UTF-8\"")]
    [InlineData("application/json; charset=utf8")]
    [InlineData("application/json; charset=\"utf8\"")]
    public async Task Json_content_type_in_any_case_with_utf8_charset_is_accepted(string contentType)
    {
        await using var host = await GatewayHost.StartAsync();
        var content = new ByteArrayContent("""{"text": "a"}"""u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await host.Client.PostAsync("/predict", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("0", "greedy")] // as the caller wrote it; the Preprocessor owns the greedy boundary
    [InlineData("1e-40", "subnormal")]
    [InlineData("1e-50", "zero")]
    public async Task Tiny_temperature_is_accepted_and_passed_on_as_float32(string temperature, string becomes)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json($$"""{"prompt": "a", "temperature": {{temperature}}, "top_k": 40}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sampling = Assert.Single(host.Preprocessor.Requests).Sampling;
        Assert.True(sampling.HasTemperature, becomes);
        Assert.Equal((float)double.Parse(temperature, System.Globalization.CultureInfo.InvariantCulture), sampling.Temperature);
        Assert.Equal(40, sampling.TopK);
    }

    [Fact]
    public async Task Chunk_size_beyond_64_bits_is_400_json()
    {
        await using var host = await GatewayHost.StartAsync();

        var response = await RawHttp.SendAsync(host.Client.BaseAddress!,
            "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
            "ffffffffffffffff\r\n{\"text\": \"a\"}\r\n0\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("The request body's chunked transfer encoding is malformed.", response.Error().GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("zz\r\n")]
    [InlineData("-1\r\n")]
    [InlineData("d\r\n{\"text\": \"a\"}XX")]
    public async Task Malformed_chunked_body_is_400_json(string chunks)
    {
        await using var host = await GatewayHost.StartAsync();

        var response = await RawHttp.SendAsync(host.Client.BaseAddress!,
            "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks);

        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_value", response.Error().GetProperty("code").GetString());
    }

    [Fact]
    public async Task Exception_nobody_anticipated_is_500_json_without_its_text()
    {
        await using var host = await GatewayHost.StartAsync(mapExtra: app =>
            app.MapGet("/test/bug", string () => throw new InvalidOperationException("secret at 10.0.0.7:5000")));

        using var response = await host.Client.GetAsync("/test/bug");

        var error = await RejectedAsync(response, HttpStatusCode.InternalServerError);
        Assert.Equal(("internal_error", "The server failed to answer this request."),
            (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
    }
}

/// <summary>Requests Kestrel refuses before any application code runs (request line, headers, framing headers): still the JSON error body, with Kestrel's status.</summary>
public sealed class MalformedHttpTests
{
    const string Body = """{"text": "a"}""";

    public static TheoryData<string, string, int, string> Requests => new()
    {
        { "bad Content-Length", $"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{Body}", 400, "invalid_http" },
        { "two Content-Lengths", $"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\nContent-Length: 14\r\n\r\n{Body}", 400, "invalid_http" },
        { "no Host", $"POST /predict HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{Body}", 400, "invalid_http" },
        { "bad Host", $"POST /predict HTTP/1.1\r\nHost: local host/\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{Body}", 400, "invalid_http" },
        { "bad request line", "POST /predict HTTP/1.1 extra\r\nHost: localhost\r\n\r\n", 400, "invalid_http" },
        { "not HTTP", "\u0001\u0002\u0003 hello\r\n\r\n", 400, "invalid_http" },
        { "unknown HTTP version", "GET /v1/models HTTP/1.7\r\nHost: localhost\r\n\r\n", 505, "http_version_not_supported" },
        { "URL of 9 KiB", $"GET /v1/models?q={new string('a', 9 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "uri_too_long" },
        { "headers of 40 KiB", $"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: {new string('a', 40 * 1024)}\r\n\r\n", 431, "headers_too_large" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Request_kestrel_refuses_gets_its_status_with_the_json_error_body(string problem, string request, int status, string code)
    {
        await using var host = await GatewayHost.StartAsync();

        var response = await RawHttp.SendAsync(host.Client.BaseAddress!, request);

        Assert.True(status == response.Status, $"{problem}: expected {status}, got {response.Status}");
        var error = response.Error();
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Headers_that_stop_arriving_get_408_with_the_json_error_body()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02" });

        // The blank line that ends the headers never comes (a slowloris client); Kestrel gives up after the limit.
        var response = await RawHttp.SendAsync(host.Client.BaseAddress!, "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n");

        Assert.Equal(408, response.Status);
        Assert.Equal(("request_timeout", "invalid_request_error", "The request did not arrive in time: the client sent it too slowly."),
            (response.Error().GetProperty("code").GetString(), response.Error().GetProperty("type").GetString(), response.Error().GetProperty("message").GetString()));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Body_that_stops_arriving_gets_408_with_the_json_error_body_in_the_gateways_words()
    {
        await using var host = await GatewayHost.StartAsync(mapExtra: app => app.Use((context, next) =>
        {
            // Kestrel's default rate (240 bytes/s) with a grace period of 2 s instead of 5, to keep the test short.
            context.Features.Get<IHttpMinRequestBodyDataRateFeature>()!.MinDataRate = new MinDataRate(240, TimeSpan.FromSeconds(2));
            return next(context);
        }));

        // 100 bytes announced, 9 sent, then nothing: a client that stalls in the middle of its body.
        var response = await RawHttp.SendAsync(host.Client.BaseAddress!,
            "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\": ");

        Assert.Equal(408, response.Status);
        var error = response.Error();
        Assert.Equal(("request_timeout", "The request did not arrive in time: the client sent it too slowly."),
            (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Connection_stays_usable_for_good_requests_after_many_responses()
    {
        await using var host = await GatewayHost.StartAsync();
        var request = $"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{Body}";
        var pipelined = string.Concat(Enumerable.Repeat(request, 20)) + request.Replace("Host: localhost\r\n", "Host: localhost\r\nConnection: close\r\n", StringComparison.Ordinal);

        var response = await RawHttp.SendAsync(host.Client.BaseAddress!, pipelined);

        Assert.True(200 == response.Status, response.Body + string.Join(";", response.Headers));
        Assert.Equal(21, host.Preprocessor.Requests.Count);
    }
}
