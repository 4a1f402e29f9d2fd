using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GptjAspire.AppHost.Tests.Api;
using GptjAspire.AppHost.Tests.Running;

namespace GptjAspire.AppHost.Tests.Faults;

/// <summary>Faults and stops acted on midway through a generation, on the tiny model (its generations always run to max_tokens
/// unless something ends them).</summary>
[Collection(AppCollection.Name)]
public sealed class FaultTests(TinyModelApp app) : IClassFixture<TinyModelApp>
{
    // Long enough that the generation is still running when the test acts on it.
    const string LongStream = """{"prompt": "Xin chào", "max_tokens": 2000, "n": 4, "stream": true}""";

    // Guards against a hang (a restart, a health change, spans in export batches); not speed requirements.
    static readonly TimeSpan Guard = TimeSpan.FromMinutes(3);

    static async Task<StreamReader> OpenStreamAsync(HttpClient client, HttpRequestMessage request)
    {
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
    }

    static async Task<string> ReadEventAsync(StreamReader reader)
    {
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
                return string.Join("\n", lines);
            lines.Add(line);
        }
        return string.Join("\n", lines);
    }

    static JsonElement ErrorOf(string sseEvent) =>
        JsonDocument.Parse(sseEvent[(sseEvent.IndexOf("data: ", StringComparison.Ordinal) + 6)..]).RootElement.GetProperty("error");

    [Fact]
    public async Task Backend_killed_mid_stream_ends_it_with_an_error_event_then_503_until_Aspire_starts_it_again()
    {
        using var guard = new CancellationTokenSource(Guard);
        var gatewayPid = await app.ProcessIdAsync(GptjApp.GatewayResource);
        var preprocessorPid = await app.ProcessIdAsync(GptjApp.PreprocessorResource);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json.Body(LongStream) };
        using var reader = await OpenStreamAsync(app.Gateway, request);
        Assert.StartsWith("data: {", await ReadEventAsync(reader));
        // As a crash would: the backend's whole process tree at once (SIGKILL).
        using (var backend = Process.GetProcessById(await app.ProcessIdAsync(GptjApp.BackendResource)))
            backend.Kill(entireProcessTree: true);
        var rest = await reader.ReadToEndAsync(guard.Token);

        var last = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith("event: error\ndata: ", last);
        Assert.Equal("server_error", ErrorOf(last).GetProperty("type").GetString());
        Assert.DoesNotContain("[DONE]", rest);

        // While the backend is down the Gateway says so: its readiness fails and a request is a clean 503 with Retry-After.
        await WaitForGatewayHealthAsync(HttpStatusCode.ServiceUnavailable, guard.Token);
        using (var down = await app.Gateway.PostAsync("/v1/completions", Json.Body("""{"prompt": "Xin chào", "max_tokens": 4}"""), guard.Token))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.NotNull(down.Headers.RetryAfter);
            Assert.Equal(JsonValueKind.Object, (await down.ReadJsonAsync()).GetProperty("error").ValueKind);
        }

        var started = await app.App.ResourceCommands.ExecuteCommandAsync(app.Resource(GptjApp.BackendResource), KnownResourceCommands.StartCommand, guard.Token);
        Assert.True(started.Success, started.Message);
        // The start command can return while the backend's state is still the killed process's, which a stopping wait
        // takes for a failed start (seen three runs in a row in the full suite); the guard still bounds this wait.
        await app.WaitHealthyAsync(GptjApp.Services, guard.Token, WaitBehavior.WaitOnResourceUnavailable);
        // Aspire's view of the Preprocessor can be a health result from before the kill; the Gateway's readiness
        // reads the Preprocessor's current view of the backend (its monitor polls every 0.5 s while the backend is down).
        await WaitForGatewayHealthAsync(HttpStatusCode.OK, guard.Token);

        using var after = await app.Gateway.PostAsync("/v1/completions", Json.Body("""{"prompt": "Xin chào", "max_tokens": 4}"""), guard.Token);
        Assert.True(after.StatusCode == HttpStatusCode.OK, await after.Content.ReadAsStringAsync(guard.Token));
        // Nothing else was restarted.
        Assert.Equal(gatewayPid, await app.ProcessIdAsync(GptjApp.GatewayResource));
        Assert.Equal(preprocessorPid, await app.ProcessIdAsync(GptjApp.PreprocessorResource));
    }

    [Fact]
    public async Task Client_that_disconnects_mid_stream_makes_the_backend_stop_generating_for_it()
    {
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json.Body(LongStream) })
        {
            request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01");
            using var reader = await OpenStreamAsync(app.Gateway, request);
            Assert.StartsWith("data: {", await ReadEventAsync(reader));
        } // Disposing the response closes the connection: the client is gone.

        var spans = await app.Telemetry.WaitForAsync(
            all => all.Any(s => s.TraceId == traceId && s.Service == GptjApp.BackendResource && s.Name == "generate"), Guard);
        var generation = Assert.Single(spans, s => s.TraceId == traceId && s.Service == GptjApp.BackendResource && s.Name == "generate");
        Assert.True(generation.Events.Contains("cancelled"),
            $"the backend's generation span has no 'cancelled' event: {string.Join(", ", generation.Attributes.Select(a => $"{a.Key}={a.Value}"))}");
        Assert.True(int.Parse(generation.Attributes["gen_ai.usage.output_tokens"], System.Globalization.CultureInfo.InvariantCulture) < 4 * 2000,
            "the backend generated every token of a request whose client had left");
    }

    [Fact]
    public async Task Whole_request_with_an_early_stop_ends_the_backends_generation_there()
    {
        const string request = """{"prompt": "Xin chào", "temperature": 0""";
        using var free = await app.Gateway.PostAsync("/v1/completions", Json.Body(request + """, "max_tokens": 16}"""));
        var text = Json.Choices(await free.ReadJsonAsync())[0].Text;
        var stop = text.Substring(Math.Min(3, text.Length - 1), 1);
        var expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

        // Greedy text is the same at any max_tokens; the tiny model never ends it by itself, so without the stop reaching
        // the backend it generates all 2000 tokens before the whole answer is cut.
        using var stopped = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Json.Body(request + $$""", "max_tokens": 2000, "stop": [{{JsonSerializer.Serialize(stop)}}]}"""),
        };
        stopped.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01");
        using var response = await app.Gateway.SendAsync(stopped);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((expected, "stop"), Json.Choices(await response.ReadJsonAsync())[0]);
        var spans = await app.Telemetry.WaitForAsync(
            all => all.Any(s => s.TraceId == traceId && s.Service == GptjApp.BackendResource && s.Name == "generate"), Guard);
        var generation = Assert.Single(spans, s => s.TraceId == traceId && s.Service == GptjApp.BackendResource && s.Name == "generate");
        var generated = int.Parse(generation.Attributes["gen_ai.usage.output_tokens"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(generated < 1000, $"the backend generated {generated} of 2000 tokens for a text that stopped after {expected.Length + 1} characters");
    }

    async Task WaitForGatewayHealthAsync(HttpStatusCode expected, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var health = await app.Gateway.GetAsync("/health", cancellationToken);
            if (health.StatusCode == expected)
                return;
            await Task.Delay(200, cancellationToken);
        }
    }
}
