using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GptjAspire.LocalRun.Processes;

namespace GptjAspire.Integration.Tests;

[Collection(RunningSystemCollection.Name)]
public sealed class FaultTests(TinyModelSystem system) : IClassFixture<TinyModelSystem>
{
    // Long enough that the generation is still running when the test acts on it.
    const string LongStream = """{"prompt": "Xin chào", "max_tokens": 2000, "n": 4, "stream": true}""";

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

    [Fact]
    public async Task Killing_the_backend_mid_stream_ends_it_with_an_error_event_and_a_restarted_backend_is_used_again()
    {
        // Its own system: this test kills the backend.
        await using var services = new LocalSystem((_, _) => { }, new Dictionary<string, string> { ["Model__Path"] = RunningSystem.TinyModelPath });
        services.Start();
        await system.WaitHealthyAsync(services);
        using var client = new HttpClient { BaseAddress = services.GatewayUrl };

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json.Body(LongStream) };
        using var reader = await OpenStreamAsync(client, request);
        Assert.StartsWith("data: {", await ReadEventAsync(reader));
        services.Backend!.Kill();
        var rest = await reader.ReadToEndAsync();

        var events = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        var last = events[^1];
        Assert.StartsWith("event: error\ndata: ", last);
        var error = JsonDocument.Parse(last[(last.IndexOf("data: ", StringComparison.Ordinal) + 6)..]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain("[DONE]", rest);

        services.StartBackend();
        await system.WaitHealthyAsync(services);
        using var after = await client.PostAsync("/v1/completions", Json.Body("""{"prompt": "Xin chào", "max_tokens": 4}"""));
        Assert.True(after.StatusCode == HttpStatusCode.OK, await after.Content.ReadAsStringAsync());
        Assert.True(services.Gateway!.Exited.IsCompleted is false && services.Preprocessor!.Exited.IsCompleted is false);
    }

    [Fact]
    public async Task Cancelling_a_stream_makes_the_backend_stop_generating_for_it()
    {
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json.Body(LongStream) })
        {
            request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01");
            using var reader = await OpenStreamAsync(system.Gateway, request);
            Assert.StartsWith("data: {", await ReadEventAsync(reader));
        } // Disposing the response closes the connection: the client is gone.

        var spans = await system.Telemetry.WaitForAsync(
            all => all.Any(s => s.TraceId == traceId && s.Service == "backend" && s.Name == "generate"), TimeSpan.FromSeconds(60));
        var generation = Assert.Single(spans, s => s.TraceId == traceId && s.Service == "backend" && s.Name == "generate");
        Assert.True(generation.Events.Contains("cancelled"),
            $"the backend's generation span has no 'cancelled' event: {string.Join(", ", generation.Attributes.Select(a => $"{a.Key}={a.Value}"))}");
        Assert.True(int.Parse(generation.Attributes["gen_ai.usage.output_tokens"], System.Globalization.CultureInfo.InvariantCulture) < 4 * 2000,
            "the backend generated every token of a request whose client had left");
    }
}
