using System.Net;
using GptjAspire.Gateway.Tests.RateLimiting;
using Microsoft.Extensions.Options;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Per-caller limits: a caller over its requests or tokens per minute gets 429 with Retry-After; other callers do not notice.</summary>
public sealed class RateLimitTests
{
    static HttpRequestMessage Completion(string key, int maxTokens = 4, int n = 1) =>
        new(HttpMethod.Post, "/v1/completions")
        {
            Content = Json($$"""{"prompt": "a", "max_tokens": {{maxTokens}}, "n": {{n}}}"""),
            Headers = { { "Authorization", $"Bearer {key}" } },
        };

    static Dictionary<string, string> TwoKeys(int requestsPerMinute, int tokensPerMinute) => new()
    {
        ["Gateway:ApiKeys:0"] = "sk-a",
        ["Gateway:ApiKeys:1"] = "sk-b",
        ["Gateway:RateLimits:RequestsPerMinute"] = requestsPerMinute.ToString(),
        ["Gateway:RateLimits:TokensPerMinute"] = tokensPerMinute.ToString(),
    };

    static async Task AssertRateLimitedAsync(HttpResponseMessage response, string type)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(type, error.GetProperty("type").GetString());
    }

    static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Fact]
    public async Task Key_over_its_requests_per_minute_gets_429_while_another_key_passes()
    {
        // One request a minute refills in 60 s: far longer than these requests take.
        await using var host = await GatewayHost.StartAsync(TwoKeys(requestsPerMinute: 2, tokensPerMinute: 0));

        using var first = await host.Client.SendAsync(Completion("sk-a"));
        using var second = await host.Client.SendAsync(Completion("sk-a"));
        using var third = await host.Client.SendAsync(Completion("sk-a"));
        using var otherKey = await host.Client.SendAsync(Completion("sk-b"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", Header(first, "x-ratelimit-limit-requests"));
        Assert.Equal("1", Header(first, "x-ratelimit-remaining-requests"));
        Assert.EndsWith("s", Header(first, "x-ratelimit-reset-requests"));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("0", Header(second, "x-ratelimit-remaining-requests"));
        await AssertRateLimitedAsync(third, "requests");
        Assert.Equal("0", Header(third, "x-ratelimit-remaining-requests"));
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
        Assert.Equal("1", Header(otherKey, "x-ratelimit-remaining-requests"));
        Assert.Equal(3, host.Preprocessor.Requests.Count);
    }

    [Fact]
    public async Task Tokens_are_charged_at_their_most_and_a_key_over_its_tokens_gets_429()
    {
        await using var host = await GatewayHost.StartAsync(TwoKeys(requestsPerMinute: 0, tokensPerMinute: 100));

        using var first = await host.Client.SendAsync(Completion("sk-a", maxTokens: 30, n: 2));
        using var second = await host.Client.SendAsync(Completion("sk-a", maxTokens: 100));
        using var otherKey = await host.Client.SendAsync(Completion("sk-b", maxTokens: 41));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("100", Header(first, "x-ratelimit-limit-tokens"));
        Assert.Equal("40", Header(first, "x-ratelimit-remaining-tokens"));
        await AssertRateLimitedAsync(second, "tokens");
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
        Assert.Equal("59", Header(otherKey, "x-ratelimit-remaining-tokens"));
        Assert.False(first.Headers.Contains("x-ratelimit-limit-requests"));
    }

    [Fact]
    public async Task Request_that_could_exceed_a_whole_minute_of_tokens_is_400_naming_the_field()
    {
        await using var host = await GatewayHost.StartAsync(TwoKeys(requestsPerMinute: 0, tokensPerMinute: 100));

        using var response = await host.Client.SendAsync(Completion("sk-a", maxTokens: 101));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("max_tokens", (await response.ReadJsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Predict_is_charged_n_samples_times_its_length_cap()
    {
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:RateLimits:TokensPerMinute"] = "1000",
            ["Gateway:PredictMaxLength"] = "100",
        });

        using var response = await host.Client.PostAsync("/predict", Json("""{"text": "a", "n_samples": 3}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("700", Header(response, "x-ratelimit-remaining-tokens"));
    }

    public static TheoryData<string, Grpc.Core.RpcException, HttpStatusCode, int> Failures => new()
    {
        { "prompt beyond the context", PreprocessorFailures.Invalid("max_new_tokens", "The prompt (10 tokens) plus 300 new tokens exceeds the model's context of 32 tokens.", "CONTEXT_LENGTH_EXCEEDED"),
            HttpStatusCode.BadRequest, 1000 },
        { "token id outside the vocabulary", PreprocessorFailures.Invalid("prompt_ids", "Token id 999999 at position 0 is outside the vocabulary."), HttpStatusCode.BadRequest, 1000 },
        { "backend queue full", PreprocessorFailures.Retryable(Grpc.Core.StatusCode.ResourceExhausted, "The model backend is at capacity; retry later.", "BACKEND_OVERLOADED", TimeSpan.FromSeconds(1)),
            HttpStatusCode.TooManyRequests, 1000 },
        // A backend that failed may have generated first: the charge stays.
        { "backend failed", PreprocessorFailures.Create(Grpc.Core.StatusCode.Internal, "The model backend failed to process this request.", "BACKEND_FAILED"),
            HttpStatusCode.BadGateway, 700 },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Tokens_of_a_request_refused_before_it_generates_are_given_back(string problem, Grpc.Core.RpcException failure, HttpStatusCode status, int remaining)
    {
        // A clock that stands still: the allowance does not refill between the two requests.
        await using var host = await GatewayHost.StartAsync(TwoKeys(requestsPerMinute: 0, tokensPerMinute: 1000), time: new ManualTime());
        host.Preprocessor.Failure = failure;

        using var refused = await host.Client.SendAsync(Completion("sk-a", maxTokens: 300));
        host.Preprocessor.Failure = null;
        using var served = await host.Client.SendAsync(Completion("sk-a", maxTokens: 300));

        Assert.True(status == refused.StatusCode, problem);
        Assert.Equal(remaining.ToString(), Header(refused, "x-ratelimit-remaining-tokens"));
        Assert.Equal((remaining - 300).ToString(), Header(served, "x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public async Task Tokens_of_a_request_the_admission_refuses_are_given_back()
    {
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:RateLimits:TokensPerMinute"] = "10000",
            ["Gateway:Admission:MaxConcurrentRequests"] = "1",
            ["Gateway:Admission:MaxQueuedRequests"] = "0",
        }, time: new ManualTime());
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "max_tokens": 100, "stream": true}""") };
        using var holding = await host.Client.SendAsync(first, HttpCompletionOption.ResponseHeadersRead);

        using var refused = await host.Client.PostAsync("/predict", Json("""{"text": "b"}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        // 100 tokens held by the stream; the refused 10 × 256 came back. (On the real clock the allowance refilled by
        // 10000/60 a second meanwhile, and a slow run read more than the bound allowed.)
        Assert.Equal("9900", Header(refused, "x-ratelimit-remaining-tokens"));
    }

    [Fact]
    public async Task Without_keys_callers_are_limited_by_address_and_health_is_not_counted()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:RateLimits:RequestsPerMinute"] = "1" });

        using var first = await host.Client.GetAsync("/v1/models");
        using var health = await host.Client.GetAsync("/healthz");
        using var second = await host.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.False(health.Headers.Contains("x-ratelimit-limit-requests"));
        await AssertRateLimitedAsync(second, "requests");
    }

    [Fact]
    public async Task Key_with_as_many_requests_in_progress_as_it_may_gets_429_until_one_ends_while_another_key_passes()
    {
        await using var host = await GatewayHost.StartAsync(new(TwoKeys(requestsPerMinute: 0, tokensPerMinute: 0))
        {
            ["Gateway:RateLimits:ConcurrentRequests"] = "2",
        });
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;

        using var first = await OpenStreamAsync(host, "sk-a");
        using var second = await OpenStreamAsync(host, "sk-a");
        using var third = await host.Client.SendAsync(Completion("sk-a"));
        using var otherKey = await OpenStreamAsync(host, "sk-b");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), third.Headers.RetryAfter?.Delta);
        var error = (await third.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("concurrent_requests", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("at most 2 at once", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
        Assert.Equal(3, host.Preprocessor.Requests.Count);

        // The client leaves: its place is free again once the Gateway has ended that request.
        first.Dispose();
        using var afterwards = await SendUntilNotConcurrencyLimitedAsync(host, () => Completion("sk-a"));
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    [Fact]
    public async Task Request_refused_for_its_callers_requests_in_progress_is_not_counted_per_minute()
    {
        await using var host = await GatewayHost.StartAsync(new(TwoKeys(requestsPerMinute: 5, tokensPerMinute: 0))
        {
            ["Gateway:RateLimits:ConcurrentRequests"] = "1",
        }, time: new ManualTime());
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var holding = await OpenStreamAsync(host, "sk-a");

        using var refused = await host.Client.SendAsync(Completion("sk-a"));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("4", Header(holding, "x-ratelimit-remaining-requests"));
        holding.Dispose();
        using var afterwards = await SendUntilNotConcurrencyLimitedAsync(host, () => Completion("sk-a"));
        Assert.Equal("3", Header(afterwards, "x-ratelimit-remaining-requests"));
    }

    /// <summary>A streamed completion whose response has started (headers read), left open: the Preprocessor hangs after its first message.</summary>
    static Task<HttpResponseMessage> OpenStreamAsync(GatewayHost host, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "max_tokens": 4, "stream": true}""") };
        if (key is not null)
            request.Headers.Add("Authorization", $"Bearer {key}");
        return host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Sends until the answer is not the 429 for requests in progress: a place is given back only once the Gateway
    /// has noticed that its client left, a moment after the client did.</summary>
    internal static async Task<HttpResponseMessage> SendUntilNotConcurrencyLimitedAsync(GatewayHost host, Func<HttpRequestMessage> request)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            // Headers only: a stream that is let in stays open.
            var response = await host.Client.SendAsync(request(), HttpCompletionOption.ResponseHeadersRead, bound.Token);
            if (response.StatusCode != HttpStatusCode.TooManyRequests)
                return response;
            await response.Content.LoadIntoBufferAsync(bound.Token);
            if ((await response.ReadJsonAsync()).GetProperty("error").GetProperty("type").GetString() != "concurrent_requests")
                return response;
            response.Dispose();
            await Task.Delay(10, bound.Token);
        }
    }

    [Theory]
    [InlineData("RequestsPerMinute")]
    [InlineData("TokensPerMinute")]
    [InlineData("ConcurrentRequests")]
    public async Task Negative_limit_stops_the_gateway_at_startup_naming_it(string limit)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync(new() { [$"Gateway:RateLimits:{limit}"] = "-1" }));

        Assert.Contains(limit, error.Message);
    }
}
