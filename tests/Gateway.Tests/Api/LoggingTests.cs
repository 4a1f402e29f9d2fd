using System.Net;
using GptjAspire.Gptj.V1;
using Microsoft.Extensions.Logging;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>What the Gateway logs for routine events: a refused request or a client that leaves is one information line, never a
/// warning or a stack trace (neither the Gateway's own nor the gRPC client's).</summary>
public sealed class LoggingTests
{
    [Fact]
    public async Task A_refused_request_and_a_client_disconnect_log_no_warning_and_no_grpc_failure()
    {
        var logs = new RecordedLogs();
        await using var host = await GatewayHost.StartAsync(logs: logs);
        logs.Clear(); // the startup warning of an open API is not what this test is about

        host.Preprocessor.Failure = PreprocessorFailures.Invalid("max_new_tokens", "The prompt (10 tokens) plus 2040 new tokens exceeds the model's context of 2048 tokens.", "CONTEXT_LENGTH_EXCEEDED");
        using (var refused = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "max_tokens": 2040}""")))
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        host.Preprocessor.Failure = null;
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "stream": true}""") })
        using (var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }
        await host.Preprocessor.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The Gateway has finished with the request once it says the client cancelled it.
        for (var waited = 0; waited < 300 && !logs.Entries.Any(e => e.Message.Contains("cancelled by the client", StringComparison.Ordinal)); waited++)
            await Task.Delay(100);

        var entries = logs.Entries;
        Assert.Contains(entries, e => e.Message.Contains("rejected", StringComparison.Ordinal) && e.Level == LogLevel.Information);
        Assert.Contains(entries, e => e.Message.Contains("cancelled by the client", StringComparison.Ordinal) && e.Level == LogLevel.Information);
        Assert.DoesNotContain(entries, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(entries, e => e.HasException);
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("Grpc", StringComparison.Ordinal));
    }
}
