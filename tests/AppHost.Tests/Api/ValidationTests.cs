using System.Net;
using System.Net.Http.Headers;
using System.Text;
using GptjAspire.Tokenizer;
using GptjAspire.AppHost.Tests.Running;

namespace GptjAspire.AppHost.Tests.Api;

/// <summary>Every kind of bad request, through the real chain: the Gateway's own checks and the Preprocessor's context budget.</summary>
[Collection(AppCollection.Name)]
public sealed class ValidationTests(GptjApp system)
{
    static readonly BpeTokenizer Tokenizer = BpeTokenizer.FromDirectory(GptjApp.DemoModelPath);

    async Task<(HttpStatusCode Status, string? Param, string Message)> PostAsync(string path, HttpContent content)
    {
        using var response = await system.Gateway.PostAsync(path, content);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        var param = error.GetProperty("param");
        return (response.StatusCode, param.ValueKind == System.Text.Json.JsonValueKind.String ? param.GetString() : null,
            error.GetProperty("message").GetString()!);
    }

    [Theory]
    [InlineData("/predict", """{"text": ""}""", "text")]
    [InlineData("/predict", """{"text": 5}""", "text")]
    [InlineData("/predict", """{"text": "a", "top_k": "many"}""", "top_k")]
    [InlineData("/predict", """{"text": "a", "top_p": 2}""", "top_p")]
    [InlineData("/predict", """{"text": "a", "n_samples": 1000}""", "n_samples")]
    [InlineData("/predict", """{"txt": "a"}""", "text")] // unknown fields are ignored on /predict, so text is missing
    [InlineData("/v1/completions", """{"prompt": ["a", 1]}""", "prompt")]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": -5}""", "max_tokens")]
    [InlineData("/v1/completions", """{"prompt": "a", "temperature": "hot"}""", "temperature")]
    [InlineData("/v1/completions", """{"prompt": "a", "n": 0}""", "n")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": [""]}""", "stop")]
    [InlineData("/v1/completions", """{"prompt": "a", "seed": 1.5}""", "seed")]
    [InlineData("/v1/completions", """{"prompt": "a", "stream": 1}""", "stream")]
    [InlineData("/v1/completions", """{"prompt": "a", "echo": "no"}""", "echo")]
    [InlineData("/v1/completions", """{"prompt": "a", "top_k": -1}""", "top_k")]
    [InlineData("/v1/completions", """{"prompt": "a", "repetition_penalty": -1}""", "repetition_penalty")]
    [InlineData("/v1/completions", """{"prompt": "a", "top_p": 0}""", "top_p")]
    [InlineData("/v1/completions", """{"prompt": "a", "repetition_penalty": 0.001}""", "repetition_penalty")] // the Preprocessor's floor
    [InlineData("/v1/completions", """{"prompt": "a", "temperature": 1e400}""", "temperature")]
    [InlineData("/v1/completions", """{"prompt": "a", "suffix": "\ud800"}""", "suffix")]
    [InlineData("/v1/completions", """{"prompt": "a", "stream": true, "stream_options": {"\ud800": true}}""", "stream_options")]
    public async Task Bad_field_is_400_naming_it(string path, string body, string param)
    {
        var (status, named, _) = await PostAsync(path, Json.Body(body));

        Assert.Equal((HttpStatusCode.BadRequest, param), (status, named));
    }

    [Fact]
    public async Task Max_tokens_beyond_the_context_window_is_400_on_max_tokens_with_the_numbers()
    {
        var tokens = Tokenizer.CountTokens("Xin chào");

        var (status, param, message) = await PostAsync("/v1/completions", Json.Body("""{"prompt": "Xin chào", "max_tokens": 511}"""));

        Assert.Equal((HttpStatusCode.BadRequest, "max_tokens"), (status, param));
        Assert.Equal($"The prompt ({tokens} tokens) plus 511 new tokens exceeds the model's context of 512 tokens; at most {512 - tokens} new tokens fit after this prompt.", message);
    }

    [Fact]
    public async Task Max_tokens_beyond_what_any_prompt_leaves_is_refused_by_the_gateway_with_the_preprocessors_limit()
    {
        // The demo checkpoint's context is 512: the Preprocessor reports max_new_tokens 511, and the Gateway checks it.
        var (status, param, message) = await PostAsync("/v1/completions", Json.Body("""{"prompt": "Xin chào", "max_tokens": 5000}"""));

        Assert.Equal((HttpStatusCode.BadRequest, "max_tokens", "'max_tokens' must be between 1 and 511; got 5000."), (status, param, message));
    }

    [Fact]
    public async Task Predict_text_of_256_tokens_or_more_is_400_on_text()
    {
        var text = "Hà Nội";
        while (Tokenizer.CountTokens(text) < 300)
            text += " là thủ đô của Việt Nam";
        var tokens = Tokenizer.CountTokens(text);
        Assert.InRange(tokens, 300, 511);

        var (status, param, message) = await PostAsync("/predict", Json.Body($$"""{"text": "{{text}}"}"""));

        Assert.Equal((HttpStatusCode.BadRequest, "text"), (status, param));
        Assert.Equal($"The prompt is {tokens} tokens; the total length is capped at 256 tokens, which leaves no room for new tokens.", message);
    }

    [Fact]
    public async Task Body_that_is_not_json_is_400()
    {
        var (status, _, message) = await PostAsync("/v1/completions", Json.Body("""{"prompt": "a" """));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("The request body is not valid JSON", message);
    }

    [Fact]
    public async Task Body_that_is_not_utf8_is_400()
    {
        var content = new ByteArrayContent([.. "{\"text\": \"a"u8, 0xFF, .. "\"}"u8]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var (status, _, message) = await PostAsync("/predict", content);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("The request body is not valid UTF-8", message);
    }

    [Fact]
    public async Task Huge_body_is_413_with_the_limit()
    {
        var text = new string('ă', 600_000);

        var (status, _, message) = await PostAsync("/predict", Json.Body($$"""{"text": "{{text}}"}"""));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("The request body is larger than the limit of 1048576 bytes.", message);
    }

    [Fact]
    public async Task Unknown_model_is_404()
    {
        var (status, param, _) = await PostAsync("/v1/completions", Json.Body("""{"model": "gpt-3.5-turbo-instruct", "prompt": "a"}"""));

        Assert.Equal((HttpStatusCode.NotFound, "model"), (status, param));
    }

    [Fact]
    public async Task Text_body_is_415()
    {
        var (status, _, _) = await PostAsync("/predict", new StringContent("text", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
    }
}
