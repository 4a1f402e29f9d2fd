using System.Net;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary><c>/tokenize</c> and <c>/detokenize</c> in vLLM's shapes, answered by the Preprocessor's tokenizer (here a stand-in
/// that gives one id per UTF-16 unit).</summary>
public sealed class TokenizationTests
{
    [Fact]
    public async Task Tokenize_answers_the_ids_their_count_and_the_context_length_as_vllm_does()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/tokenize", Json("""{"model": "gptj", "prompt": "Hà", "add_special_tokens": true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(2, body.GetProperty("count").GetInt32());
        Assert.Equal(2048, body.GetProperty("max_model_len").GetInt32());
        Assert.Equal(['H', 'à'], body.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
    }

    [Fact]
    public async Task Detokenize_answers_the_text_of_the_ids()
    {
        await using var host = await GatewayHost.StartAsync();

        // 224.0 is the integer 224, as in every integer field.
        using var response = await host.Client.PostAsync("/detokenize", Json("""{"tokens": [72, 224.0]}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hà", (await response.ReadJsonAsync()).GetProperty("prompt").GetString());
    }

    [Theory]
    [InlineData("/tokenize", """{}""", "prompt", "'prompt' is required.")]
    [InlineData("/tokenize", """{"prompt": 5}""", "prompt", "'prompt' must be a string, not a number.")]
    [InlineData("/tokenize", """{"prompt": "a", "messages": []}""", "messages", "Unrecognized request field 'messages'.")]
    [InlineData("/detokenize", """{}""", "tokens", "'tokens' is required.")]
    [InlineData("/detokenize", """{"tokens": "72"}""", "tokens", "'tokens' must be an array of token ids, not a string.")]
    [InlineData("/detokenize", """{"tokens": [72, 50400]}""", "tokens", "'tokens[1]' must be a token id from 0 to 50399, not 50400.")]
    [InlineData("/detokenize", """{"tokens": [-1]}""", "tokens", "'tokens[0]' must be a token id from 0 to 50399, not -1.")]
    [InlineData("/detokenize", """{"tokens": [[72]]}""", "tokens", "'tokens[0]' must be a token id from 0 to 50399, not an array.")]
    [InlineData("/detokenize", """{"tokens": [72.5]}""", "tokens", "'tokens[0]' must be a token id from 0 to 50399, not 72.5.")]
    public async Task A_bad_request_is_a_400_naming_the_field(string path, string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal((param, message), (error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Another_model_is_404_and_the_preprocessors_violation_on_text_is_a_400_on_prompt()
    {
        await using var host = await GatewayHost.StartAsync();
        using var otherModel = await host.Client.PostAsync("/tokenize", Json("""{"model": "gpt-4", "prompt": "a"}"""));
        host.Preprocessor.Failure = PreprocessorFailures.Invalid("text", "The text is not valid at character 3.");

        using var invalid = await host.Client.PostAsync("/tokenize", Json("""{"prompt": "abc"}"""));

        Assert.Equal(HttpStatusCode.NotFound, otherModel.StatusCode);
        Assert.Equal("model_not_found", (await otherModel.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal("prompt", (await invalid.ReadJsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }
}
