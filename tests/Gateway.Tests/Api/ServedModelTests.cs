using System.Net;
using GptjAspire.Gptj.V1;
using Microsoft.Extensions.Options;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>The model's name and limits have one source, the Preprocessor's GetModelInfo: /v1/models and every endpoint's validation agree
/// with it, and the Gateway's own options are checked at startup.</summary>
public sealed class ServedModelTests
{
    static ModelInfo Info(string name = "gptj", int maxSamples = 16, int maxStops = 16, int maxNewTokens = 2047, bool ready = true) => new()
    {
        Name = name, ContextLength = 2048, VocabSize = 50400, Ready = ready,
        MaxSamples = maxSamples, MaxStopSequences = maxStops, MaxPromptTokens = 2047, MaxNewTokens = maxNewTokens,
    };

    [Fact]
    public async Task The_model_v1_models_advertises_is_the_one_v1_completions_serves()
    {
        // The Preprocessor runs with Model__Name=vi-news-6b; the Gateway has no name of its own to disagree with.
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Info = Info("vi-news-6b");

        var advertised = (await (await host.Client.GetAsync("/v1/models")).ReadJsonAsync()).GetProperty("data")[0].GetProperty("id").GetString();
        using var named = await host.Client.PostAsync("/v1/completions", Json($$"""{"model": "{{advertised}}", "prompt": "a"}"""));
        using var unnamed = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}"""));
        using var oldDefault = await host.Client.PostAsync("/v1/completions", Json("""{"model": "gptj", "prompt": "a"}"""));

        Assert.Equal("vi-news-6b", advertised);
        Assert.Equal(HttpStatusCode.OK, named.StatusCode);
        Assert.Equal("vi-news-6b", (await unnamed.ReadJsonAsync()).GetProperty("model").GetString());
        Assert.Equal(HttpStatusCode.NotFound, oldDefault.StatusCode);
        Assert.Equal("model_not_found", (await oldDefault.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_served_name_with_a_slash_is_retrieved_by_that_name_with_the_slash_encoded_or_not()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Info = Info("VietAI/gpt-j-6B-vietnamese-news");

        using var served = await host.Client.GetAsync("/v1/models/VietAI/gpt-j-6B-vietnamese-news");
        using var servedEncoded = await host.Client.GetAsync("/v1/models/VietAI%2Fgpt-j-6B-vietnamese-news");
        using var other = await host.Client.GetAsync("/v1/models/VietAI/other");

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("VietAI/gpt-j-6B-vietnamese-news", (await served.ReadJsonAsync()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, servedEncoded.StatusCode);
        Assert.Equal("model_not_found", (await other.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "a", "n": 4}""", "n", "'n' must be between 1 and 3; got 4.")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": ["x", "y", "z"]}""", "stop", "'stop' may hold at most 2 sequences; got 3.")]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": 101}""", "max_tokens", "'max_tokens' must be between 1 and 100; got 101.")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "a"}], "stop": ["x", "y"]}""", "stop", "'stop' may hold at most 1 sequences; got 2.")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 101}""", "max_completion_tokens", "'max_completion_tokens' must be between 1 and 100; got 101.")]
    [InlineData("/predict", """{"text": "a", "n_samples": 4}""", "n_samples", "'n_samples' must be between 1 and 3; got 4.")]
    public async Task Limits_the_preprocessor_reports_are_the_ones_validated(string path, string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Info = Info(maxSamples: 3, maxStops: 2, maxNewTokens: 100);

        using var response = await host.Client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal((param, message), (error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task The_info_of_a_ready_model_is_kept_until_the_next_readiness_check_refreshes_it()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Info = Info(maxSamples: 3);

        using var first = await host.Client.PostAsync("/predict", Json("""{"text": "a", "n_samples": 3}"""));
        host.Preprocessor.Info = Info(maxSamples: 2);
        using var cached = await host.Client.PostAsync("/predict", Json("""{"text": "a", "n_samples": 3}"""));
        var calls = host.Preprocessor.InfoCalls;
        using var health = await host.Client.GetAsync("/health");
        using var refreshed = await host.Client.PostAsync("/predict", Json("""{"text": "a", "n_samples": 3}"""));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, cached.StatusCode));
        Assert.Equal(1, calls);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode);
    }

    [Fact]
    public async Task The_info_of_a_model_that_is_not_ready_is_asked_again_by_the_next_request()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Info = Info(ready: false);

        using var first = await host.Client.GetAsync("/v1/models");
        host.Preprocessor.Info = Info("vi-news-6b");
        using var second = await host.Client.GetAsync("/v1/models");

        Assert.Equal("vi-news-6b", (await second.ReadJsonAsync()).GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal(2, host.Preprocessor.InfoCalls);
    }

    [Fact]
    public async Task Concurrent_first_requests_all_validate_against_the_preprocessors_limits()
    {
        // 32 admitted /predict requests are 24,576 work units: at the default seed rate admission would refuse some, and 64
        // at once are more than one caller may have in progress; neither is what this test is about.
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:Admission:InitialDrainRate"] = "1000000",
            ["Gateway:RateLimits:ConcurrentRequests"] = "0",
        });
        host.Preprocessor.Info = Info(maxSamples: 3);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            using var response = await host.Client.PostAsync("/predict", Json($$"""{"text": "a", "n_samples": {{3 + i % 2}}}"""));
            return (Samples: 3 + i % 2, response.StatusCode);
        }));

        Assert.All(statuses, s => Assert.Equal(s.Samples == 3 ? HttpStatusCode.OK : HttpStatusCode.BadRequest, s.StatusCode));
    }

    [Theory]
    [InlineData("Gateway:MaxPrompts", "0")]
    [InlineData("Gateway:MaxRequestBodyBytes", "0")]
    [InlineData("Gateway:RequestTimeout", "00:00:00")]
    public async Task A_bad_option_stops_the_gateway_at_startup_naming_it(string setting, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(new() { [setting] = value }));

        Assert.Contains(setting["Gateway:".Length..], error.Message);
    }
}
