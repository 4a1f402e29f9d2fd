extern alias gateway;
using System.Net;
using System.Text;
using System.Text.Json;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using GatewayApi = gateway::GptjAspire.Gateway.GatewayApi;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>
/// End to end through the real Gateway, the real Preprocessor and a Triton-like backend (three services in this process,
/// real HTTP and gRPC between them): what a client sees when the backend fails.
/// </summary>
public sealed class GatewayChainErrorTests : IAsyncLifetime
{
    PreprocessorHost _preprocessor = null!;
    WebApplication _gateway = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _preprocessor = await PreprocessorHost.StartAsync();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["services:preprocessor:grpc:0"] = _preprocessor.Address,
        });
        builder.Logging.ClearProviders();
        builder.AddServiceDefaults();
        GatewayApi.AddGatewayApi(builder);
        _gateway = builder.Build();
        GatewayApi.MapGatewayApi(_gateway);
        _gateway.MapDefaultEndpoints();
        await _gateway.StartAsync();
        var address = _gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.StopAsync();
        await _gateway.DisposeAsync();
        await _preprocessor.DisposeAsync();
    }

    public static TheoryData<StreamAnswer, string, string> Requests()
    {
        var data = new TheoryData<StreamAnswer, string, string>();
        foreach (var answer in new[] { StreamAnswer.InvalidArgument, StreamAnswer.InvalidArgumentStatus, StreamAnswer.MalformedShape })
        {
            data.Add(answer, "/predict", """{"text": "ab", "n_samples": 1}""");
            data.Add(answer, "/v1/completions", """{"prompt": "ab", "max_tokens": 2}""");
            data.Add(answer, "/v1/completions", """{"prompt": "ab", "max_tokens": 2, "stream": true}""");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Backend_refusing_our_request_is_a_5xx_with_a_stable_message_not_a_400_naming_a_tensor(StreamAnswer answer, string path, string body)
    {
        _preprocessor.Backend.Script(answer);

        using var response = await _client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("input_ids", text);
        Assert.DoesNotContain("output_ids", text);
        Assert.DoesNotContain("Exception", text);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(("upstream_error", "The model service failed to answer this request."),
            (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);

        // The backend is still ready: the next request is served.
        using var next = await _client.PostAsync(path, Json(body));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Theory]
    [InlineData("/predict", """{"text": "ab", "n_samples": 1}""")]
    [InlineData("/v1/completions", """{"prompt": "ab", "max_tokens": 2}""")]
    public async Task A_backend_stream_that_ends_early_fails_that_request_only_and_the_backend_stays_in_service(string path, string body)
    {
        _preprocessor.Backend.Script(StreamAnswer.EndEarly);

        using var response = await _client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        // Before, the Preprocessor marked the backend lost and the next requests got 503 until its probe saw it again.
        for (var i = 0; i < 5; i++)
        {
            using var next = await _client.PostAsync(path, Json(body));
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        }
    }

    [Theory]
    [InlineData(StreamAnswer.QueueFull)]
    [InlineData(StreamAnswer.QueueFullStatus)]
    [InlineData(StreamAnswer.ResourceExhaustedStatus)]
    public async Task Backend_overload_is_a_429_with_retry_after(StreamAnswer answer)
    {
        _preprocessor.Backend.Script(answer);

        using var response = await _client.PostAsync("/predict", Json("""{"text": "ab", "n_samples": 1}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("queue", text);
        Assert.Equal("overloaded", JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Prompt_over_the_context_is_a_400_on_max_tokens_in_words_true_for_the_api()
    {
        using var response = await _client.PostAsync("/v1/completions", Json("""{"prompt": "abcd", "max_tokens": 29}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(("max_tokens", "context_length_exceeded"), (error.GetProperty("param").GetString(), error.GetProperty("code").GetString()));
        Assert.DoesNotContain("max_new_tokens", error.GetProperty("message").GetString());
    }

    static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
