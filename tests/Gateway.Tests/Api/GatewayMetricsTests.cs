using System.Diagnostics.Metrics;
using System.Net;
using GptjAspire.Gptj.V1;
using GptjAspire.ServiceDefaults;
using GptjAspire.Testing;
using GptjAspire.Tests.Shared;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

public sealed class GatewayMetricsTests
{
    const string Duration = "gen_ai.server.request.duration";

    [Fact]
    public async Task Known_requests_record_their_durations_errors_by_kind_and_stream_latencies_and_the_gauges_return_to_zero()
    {
        await using var host = await GatewayHost.StartAsync();
        using var metrics = new MeterRecorder(host.Services.GetRequiredService<IMeterFactory>());
        // One choice, whose deltas carry 1, then 2, then 1 generated tokens.
        host.Preprocessor.Stream = _ =>
        [
            new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " Việt", TokenIds = { 11 } } },
            new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " Nam đẹp", TokenIds = { 12, 13 } } },
            new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " lắm", TokenIds = { 14 } } },
            new GenerateStreamResponse { Summary = new GenerateSummary { Usage = new Usage { PromptTokens = 2, CompletionTokens = 4 },
                Completions = { new Completion { Index = 0, FinishReason = FinishReason.Length, CompletionTokens = 4 } } } },
        ];

        using (var whole = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "Việt Nam"}""")))
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        using (var streamed = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "Việt Nam", "stream": true}""")))
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        using (var chat = await host.Client.PostAsync("/v1/chat/completions", Json("""{"messages": [{"role": "user", "content": "Chào"}]}""")))
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using (var invalid = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "x", "temperature": -1}""")))
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, "backend down"));
        using (var unavailable = await host.Client.PostAsync("/predict", Json("""{"text": "Hà Nội"}""")))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.StatusCode);
        await metrics.WaitForAsync(5, Duration); // each is recorded once its response is complete, which the client may see first

        Assert.Equal(2, metrics.Of(Duration, ("gen_ai.operation.name", "text_completion")).Count(m => !m.Tags.ContainsKey("error.type")));
        Assert.Single(metrics.Of(Duration, ("gen_ai.operation.name", "chat")));
        Assert.Single(metrics.Of(Duration, ("gen_ai.operation.name", "text_completion"), ("error.type", "InvalidRequest")));
        Assert.Single(metrics.Of(Duration, ("gen_ai.operation.name", "text_completion"), ("error.type", "Unavailable")));
        Assert.Equal(1, metrics.Sum("gptj.gateway.errors", ("error.type", "InvalidRequest")));
        Assert.Equal(1, metrics.Sum("gptj.gateway.errors", ("error.type", "Unavailable")));
        Assert.Equal(2, metrics.Of("gptj.gateway.errors").Count);
        // Only the stream has a first token and tokens after it: 3 of them, after the first delta's 1.
        Assert.Single(metrics.Of("gen_ai.server.time_to_first_token"));
        Assert.Single(metrics.Of("gen_ai.server.time_per_output_token"));
        Assert.Equal(0, metrics.Observe("gptj.gateway.requests.active"));
        Assert.Equal(0, metrics.Observe("gptj.gateway.requests.queued"));
    }

    [Fact]
    public async Task Active_and_queued_requests_follow_held_streams_and_return_to_zero_when_their_clients_leave()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:Admission:MaxConcurrentRequests"] = "1" });
        using var metrics = new MeterRecorder(host.Services.GetRequiredService<IMeterFactory>());
        host.Preprocessor.HangAfterStream = true; // the stream holds its slot until its client leaves
        Assert.Equal(0, metrics.Observe("gptj.gateway.requests.active"));
        using var leave = new CancellationTokenSource();

        using var holding = await host.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "stream": true}""") },
            HttpCompletionOption.ResponseHeadersRead, leave.Token);
        var waiting = host.Client.PostAsync("/v1/completions", Json("""{"prompt": "b", "stream": true}"""), leave.Token);
        await metrics.WaitUntilObservedAsync("gptj.gateway.requests.queued", 1);

        Assert.Equal(1, metrics.Observe("gptj.gateway.requests.active"));

        await leave.CancelAsync();
        holding.Dispose(); // closes the connection under the stream being read
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await metrics.WaitUntilObservedAsync("gptj.gateway.requests.active", 0);
        await metrics.WaitUntilObservedAsync("gptj.gateway.requests.queued", 0);
    }

    [Fact]
    public async Task A_stream_that_fails_midway_records_its_error_and_no_time_per_token()
    {
        await using var host = await GatewayHost.StartAsync();
        using var metrics = new MeterRecorder(host.Services.GetRequiredService<IMeterFactory>());
        host.Preprocessor.Stream = _ =>
        [
            new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " Việt", TokenIds = { 11 } } },
            new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " Nam", TokenIds = { 12 } } },
        ];
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.DeadlineExceeded, "too slow"));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "Việt Nam", "stream": true}"""));
        Assert.Contains("event: error", await response.Content.ReadAsStringAsync());
        await metrics.WaitForAsync(1, Duration);

        Assert.Single(metrics.Of("gen_ai.server.time_to_first_token"));
        Assert.Single(metrics.Of(Duration, ("error.type", "Timeout")));
        Assert.Equal(1, metrics.Sum("gptj.gateway.errors", ("error.type", "Timeout")));
        Assert.Empty(metrics.Of("gen_ai.server.time_per_output_token"));
    }

    [Fact]
    public async Task Metrics_are_served_in_Prometheus_text_with_the_Gateway_names()
    {
        await using var host = await GatewayHost.StartAsync();
        using (var invalid = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": 5}""")))
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        using (var ok = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}""")))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var text = await host.Client.GetStringAsync(MetricsEndpoint.Path);

        Assert.Contains("gptj_gateway_errors_total{", text);
        Assert.Contains("error_type=\"InvalidRequest\"", text);
        Assert.Contains("gptj_gateway_requests_active{", text);
        Assert.Contains("gptj_gateway_requests_queued{", text);
        Assert.Contains("gen_ai_server_request_duration_seconds_bucket{", text);
    }

    [Fact]
    public async Task With_a_management_endpoint_the_public_port_answers_metrics_with_a_404_error_body()
    {
        var managementPort = LoopbackPorts.Free();
        await using var host = await GatewayHost.StartAsync(new() { [MetricsEndpoint.ManagementUrlKey] = $"http://127.0.0.1:{managementPort}" });

        using var onPublic = await host.Client.GetAsync(MetricsEndpoint.Path);
        using var http = new HttpClient();
        using var onManagement = await http.GetAsync(new Uri($"http://127.0.0.1:{managementPort}{MetricsEndpoint.Path}"));

        Assert.Equal(HttpStatusCode.NotFound, onPublic.StatusCode);
        Assert.Equal("unknown_url", (await onPublic.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, onManagement.StatusCode);
        Assert.Contains("gptj_gateway_requests_active", await onManagement.Content.ReadAsStringAsync());
    }
}
