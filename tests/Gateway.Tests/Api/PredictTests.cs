using System.Net;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

public sealed class PredictTests
{
    [Fact]
    public async Task Predict_with_only_text_uses_the_original_defaults_and_caps_total_length_at_256()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json("""{"text": "Hà Nội là"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal("Hà Nội là", sent.Prompt);
        Assert.Equal(10, sent.N);
        Assert.Equal(50, sent.Sampling.TopK);
        Assert.Equal(0.9f, sent.Sampling.TopP);
        Assert.True(sent.Echo);
        Assert.Equal(256, sent.MaxTotalTokens);
        Assert.False(sent.HasMaxNewTokens);
        var texts = (await response.ReadJsonAsync()).GetProperty("generated_texts").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(10, texts.Count);
        Assert.All(texts, t => Assert.StartsWith("Hà Nội là", t));
        Assert.Equal("Hà Nội là mẫu 3", texts[3]);
    }

    [Fact]
    public async Task Predict_passes_the_callers_sampling_parameters()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json("""{"text": "Xin chào", "top_k": 5, "top_p": 0.5, "n_samples": 3}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal((5, 0.5f, 3), (sent.Sampling.TopK, sent.Sampling.TopP, sent.N));
        Assert.Equal(3, (await response.ReadJsonAsync()).GetProperty("generated_texts").GetArrayLength());
    }

    [Theory]
    [InlineData("/predict", """{"text": "a", "top_p": 1e-46}""")]
    [InlineData("/predict", """{"text": "a", "top_p": 4.9e-324}""")]
    [InlineData("/v1/completions", """{"prompt": "a", "top_p": 1e-300}""")]
    public async Task A_top_p_below_the_smallest_float32_keeps_only_the_most_probable_token_instead_of_becoming_0(string path, string body)
    {
        // Hugging Face and vLLM keep the top token for any top_p this small; sent as 0 it would be refused further on.
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(float.Epsilon, Assert.Single(host.Preprocessor.Requests).Sampling.TopP);
    }

    [Theory]
    [InlineData("""{}""", "text", "'text' is required.")]
    [InlineData("""{"text": ""}""", "text", "'text' must not be empty.")]
    [InlineData("""{"text": "   "}""", "text", "'text' must not be empty.")]
    [InlineData("""{"text": 12}""", "text", "'text' must be a string, not a number.")]
    [InlineData("""{"text": "a", "top_k": "50"}""", "top_k", "'top_k' must be an integer, not a string.")]
    [InlineData("""{"text": "a", "top_k": 1.5}""", "top_k", "'top_k' must be an integer; got 1.5.")]
    [InlineData("""{"text": "a", "top_k": -1}""", "top_k", "'top_k' must be at least 0; got -1.")]
    [InlineData("""{"text": "a", "top_p": 0}""", "top_p", "'top_p' must be greater than 0 and at most 1; got 0.")]
    [InlineData("""{"text": "a", "top_p": 1.5}""", "top_p", "'top_p' must be greater than 0 and at most 1; got 1.5.")]
    [InlineData("""{"text": "a", "top_p": true}""", "top_p", "'top_p' must be a number, not a boolean.")]
    [InlineData("""{"text": "a", "n_samples": 0}""", "n_samples", "'n_samples' must be between 1 and 16; got 0.")]
    [InlineData("""{"text": "a", "n_samples": 17}""", "n_samples", "'n_samples' must be between 1 and 16; got 17.")]
    [InlineData("""{"text": "a", "n_samples": 1e300}""", "n_samples", "'n_samples' must be between 1 and 16; got 1e300.")]
    [InlineData("""{"text": "\ud800"}""", "text", "'text' contains an escaped unpaired UTF-16 surrogate, which is not valid Unicode text.")]
    public async Task Predict_rejects_a_bad_field_with_400_naming_it(string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Predict_ignores_fields_it_does_not_know_as_the_original_pydantic_model_did()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/predict",
            Json("""{"text": "Xin chào", "n_samples": 2, "max_length": 100, "do_sample": true, "n_sample": 5, "options": {"a": [1]}}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal(("Xin chào", 2, 256), (sent.Prompt, sent.N, sent.MaxTotalTokens));
    }

    [Fact]
    public async Task Healthz_is_ok_while_the_preprocessor_reports_the_model_ready_and_503_when_not()
    {
        await using var host = await GatewayHost.StartAsync();

        using var ready = await host.Client.GetAsync("/healthz");
        host.Preprocessor.Info = new Gptj.V1.ModelInfo { Name = "gptj", Ready = false };
        using var notReady = await host.Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ok", (await ready.ReadJsonAsync()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
    }
}
