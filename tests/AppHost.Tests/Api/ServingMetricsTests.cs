using System.Net;
using GptjAspire.AppHost.Tests.Running;

namespace GptjAspire.AppHost.Tests.Api;

/// <summary>Each service of the running system reports its part of a streamed generation at its own /metrics.</summary>
[Collection(AppCollection.Name)]
public sealed class ServingMetricsTests(GptjApp system)
{
    [Fact]
    public async Task After_a_streamed_completion_every_service_serves_its_serving_metrics()
    {
        using (var response = await system.Gateway.PostAsync("/v1/completions",
            Json.Body("""{"prompt": "Xin chào Việt Nam", "max_tokens": 4, "stream": true}""")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsByteArrayAsync();
        }

        var expected = new Dictionary<string, string[]>
        {
            [GptjApp.GatewayResource] =
            [
                "gen_ai_server_request_duration_seconds_count{", "gen_ai_server_time_to_first_token_seconds_count{",
                "gptj_gateway_requests_active{", "gptj_gateway_requests_queued{",
            ],
            [GptjApp.PreprocessorResource] =
            [
                "gen_ai_client_operation_duration_seconds_count{", "gen_ai_client_token_usage_sum{", "gptj_preprocessor_completions_total{",
            ],
            [GptjApp.BackendResource] =
            [
                "gptj_generation_queue_length{", "gptj_generation_sequences_running{", "gptj_generation_queue_duration_seconds_count{",
                "gen_ai_server_time_to_first_token_seconds_count{", "gptj_generation_tokens_total{", "gptj_generation_kv_cache_reserved_bytes{",
            ],
        };
        using var http = new HttpClient();
        foreach (var (service, names) in expected)
        {
            var text = await http.GetStringAsync(new Uri(system.App.GetEndpoint(service, "http"), "/metrics"));
            foreach (var name in names)
                Assert.True(text.Contains(name, StringComparison.Ordinal), $"{service}'s /metrics lacks {name}");
        }
    }
}
