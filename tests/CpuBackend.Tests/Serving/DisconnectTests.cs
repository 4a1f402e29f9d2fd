using GptjAspire.CpuBackend.Tests.DemoModel;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>
/// A client that goes away (the call's HTTP/2 stream is reset) stops its generation in the backend within one step,
/// for a whole (ModelInfer, or REST infer) and a streamed (ModelStreamInfer, or REST generate_stream) request alike: the steps and tokens counted after the
/// reset are at most the step already under way and the one that observes the cancellation.
/// </summary>
public sealed class DisconnectTests
{
    private const int Samples = 16;
    private const int MaxNewTokens = 480;

    [Fact]
    public Task Whole_request_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-whole", async (backend, request, cancellation) => await backend.Client.InferAsync(request, cancellationToken: cancellation));

    [Fact]
    public Task Streamed_request_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-stream", async (backend, request, cancellation) =>
        {
            await foreach (var _ in backend.Client.StreamInferAsync(request, cancellationToken: cancellation))
            {
            }
        }, streaming: true);

    [Fact]
    public Task Rest_request_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-rest", async (backend, _, cancellation) =>
        {
            // The same request in the KServe REST form (KServeRestEndpoints).
            using var http = backend.CreateRestClient();
            using var body = new StringContent($$"""
                {"id": "disconnect-rest", "inputs": [
                  {"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "data": [5, 6, 7]},
                  {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [3]},
                  {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [{{MaxNewTokens}}]},
                  {"name": "end_id", "datatype": "INT32", "shape": [1, 1], "data": [-1]},
                  {"name": "runtime_top_k", "datatype": "INT32", "shape": [1, 1], "data": [50]},
                  {"name": "seed", "datatype": "UINT64", "shape": [1, 1], "data": [1]},
                  {"name": "num_return_sequences", "datatype": "INT32", "shape": [1, 1], "data": [{{Samples}}]}]}
                """, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/v2/models/gptj/infer", body, cancellation);
        });

    [Fact]
    public Task Generate_stream_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-generate-stream", async (backend, _, cancellation) =>
        {
            // The same request on Triton's generate extension (GenerateEndpoints), its events read as they come.
            using var http = backend.CreateRestClient();
            using var body = new StringContent($$"""
                {"id": "disconnect-generate-stream", "input_ids": [5, 6, 7], "input_lengths": 3, "request_output_len": {{MaxNewTokens}},
                 "end_id": -1, "runtime_top_k": 50, "seed": 1, "num_return_sequences": {{Samples}}, "streaming": true}
                """, System.Text.Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/gptj/generate_stream")
            {
                Content = body,
                Version = http.DefaultRequestVersion, // a message built by hand does not take the client's HTTP/2
                VersionPolicy = http.DefaultVersionPolicy,
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            using var events = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
            while (await events.ReadLineAsync(cancellation) is not null)
            {
            }
        }, streaming: true);

    private static async Task DisconnectMidGenerationAsync(string id, Func<BackendHost, TritonClient.Protocol.ModelInferRequest, CancellationToken, Task> call, bool streaming = false)
    {
        await using var backend = await BackendHost.StartAsync(modelPath: DemoCheckpoint.Directory);
        using var counts = new GenerationCounter(backend);
        using var spans = new GenerationSpans();
        using var disconnect = new CancellationTokenSource();
        var request = Requests.Generate([5, 6, 7], MaxNewTokens, samples: Samples, streaming: streaming, topK: 50, seed: 1, id: id);

        var running = call(backend, request, disconnect.Token);
        await counts.HoldAfter(tokens: 4 * Samples);
        var (stepsAtReset, tokensAtReset) = counts.Now;
        await disconnect.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => running);
        // The loop stays held while the reset crosses loopback to the server (Kestrel's threads, not the loop's), so the
        // steps counted below measure how soon the loop acts on a cancellation, not how busy the machine is.
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        counts.Release();
        // The scheduler ends the request's span when the request leaves it.
        await spans.EndedAsync(id);

        var (steps, tokens) = counts.Now;
        Assert.InRange(steps - stepsAtReset, 0, 2);
        Assert.InRange(tokens - tokensAtReset, 0, 2 * Samples);
        Assert.True(tokens < Samples * MaxNewTokens);
    }
}
