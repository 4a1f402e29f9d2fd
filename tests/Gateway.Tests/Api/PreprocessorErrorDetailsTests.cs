using System.Net;
using Grpc.Core;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>
/// The Gateway answers a failed Preprocessor call from the status code and its google.rpc.Status details, never from
/// the message text: the field violation becomes <c>param</c> in the endpoint's own field names, the ErrorInfo reason the
/// <c>code</c> where OpenAI has one, RetryInfo the Retry-After header.
/// </summary>
public sealed class PreprocessorErrorDetailsTests
{
    const string ContextMessage = "The prompt (10 tokens) plus 2040 new tokens exceeds the model's context of 2048 tokens; at most 2038 new tokens fit after this prompt.";

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": 2040}""", "max_tokens")]
    [InlineData("/v1/completions", """{"prompt": "a", "max_tokens": 2040, "stream": true}""", "max_tokens")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 2040}""", "max_completion_tokens")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "a"}], "max_tokens": 2040}""", "max_tokens")]
    public async Task Context_overflow_is_a_400_on_the_endpoints_field_with_openais_code_and_the_message_as_written(string path, string body, string param)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [];
        host.Preprocessor.Failure = PreprocessorFailures.Invalid("max_new_tokens", ContextMessage, "CONTEXT_LENGTH_EXCEEDED");

        using var response = await host.Client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal((param, "context_length_exceeded", "invalid_request_error", ContextMessage),
            (error.GetProperty("param").GetString(), error.GetProperty("code").GetString(), error.GetProperty("type").GetString(), error.GetProperty("message").GetString()));
        Assert.Null(response.Headers.RetryAfter);
    }

    [Theory]
    [InlineData("/predict", """{"text": "a", "n_samples": 3}""", "n", "n_samples")]
    [InlineData("/predict", """{"text": "a"}""", "prompt", "text")]
    [InlineData("/v1/completions", """{"prompt": "a"}""", "prompt", "prompt")]
    [InlineData("/v1/completions", """{"prompt": "a", "top_p": 0.5}""", "top_p", "top_p")]
    [InlineData("/v1/completions", """{"prompt": [99999]}""", "prompt_ids", "prompt")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "a"}]}""", "prompt", "messages")]
    public async Task Field_violation_becomes_param_in_the_callers_words(string path, string body, string violation, string param)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = PreprocessorFailures.Invalid(violation, "Out of range.");

        using var response = await host.Client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal((param, "invalid_value", "Out of range."),
            (error.GetProperty("param").GetString(), error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData(StatusCode.ResourceExhausted, "BACKEND_OVERLOADED", 3, HttpStatusCode.TooManyRequests, "overloaded")]
    [InlineData(StatusCode.Unavailable, "BACKEND_UNAVAILABLE", 7, HttpStatusCode.ServiceUnavailable, "unavailable")]
    public async Task Retry_info_becomes_retry_after(StatusCode status, string reason, int seconds, HttpStatusCode http, string code)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = PreprocessorFailures.Retryable(status, "The model backend is at capacity; retry later.", reason, TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(300));

        foreach (var (path, body) in new[] { ("/predict", """{"text": "a"}"""), ("/v1/completions", """{"prompt": "a"}""") })
        {
            using var response = await host.Client.PostAsync(path, Json(body));

            Assert.Equal(http, response.StatusCode);
            // Whole seconds, rounded up: a client that waits that long has waited at least the delay asked for.
            Assert.Equal(TimeSpan.FromSeconds(seconds), response.Headers.RetryAfter?.Delta);
            Assert.Equal(code, (await response.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Theory]
    [InlineData("BACKEND_FAILED", "The model backend failed to process this request.")]
    [InlineData("BACKEND_OUTPUT_MALFORMED", "Input 'input_ids' has shape [1,0]; Exception was thrown by handler.")]
    public async Task Serving_side_failure_is_a_502_with_a_stable_message_and_no_param(string reason, string upstreamMessage)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = PreprocessorFailures.Create(StatusCode.Internal, upstreamMessage, reason);

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}"""));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("input_ids", text);
        Assert.DoesNotContain("Exception", text);
        Assert.DoesNotContain("backend", text);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(("upstream_error", "server_error", "The model service failed to answer this request."),
            (error.GetProperty("code").GetString(), error.GetProperty("type").GetString(), error.GetProperty("message").GetString()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Invalid_argument_without_details_has_no_param()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.InvalidArgument, "Out of range."));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal("invalid_value", error.GetProperty("code").GetString());
    }
}
