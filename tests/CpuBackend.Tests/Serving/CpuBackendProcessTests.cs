using System.Net;
using GptjAspire.CpuBackend.Tests.Engine;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>The real CpuBackend executable, configured only by the Aspire-style environment variables a launcher sets.</summary>
public sealed class CpuBackendProcessTests
{
    [Fact]
    public async Task Process_configured_by_environment_becomes_healthy_and_serves_inference()
    {
        var checkpoint = TinyCheckpoint.Create();
        try
        {
            await using var backend = await CpuBackendProcess.StartAsync(checkpoint);
            using var http = new HttpClient();
            using var alive = await http.GetAsync(new Uri(backend.HttpUrl, "/alive"));
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

            using var client = TritonInferenceClient.ForAddress(backend.GrpcUrl.ToString());
            Assert.True(await client.IsServerReadyAsync());
            var response = await client.InferAsync(Requests.Generate([5, 6], 3, excludeInput: true));
            Assert.Equal([1L, 1L, 3L], response.GetOutput<int>(C.OutputIds).Shape);

            // The same request in the KServe REST form, over HTTP/1.1 on the port Triton's HTTP clients use.
            using var ready = await http.GetAsync(new Uri(backend.HttpUrl, "/v2/health/ready"));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            using var rest = await http.PostAsync(new Uri(backend.HttpUrl, "/v2/models/gptj/infer"), new StringContent("""
                {"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 2], "data": [5, 6]},
                  {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [2]},
                  {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [3]},
                  {"name": "end_id", "datatype": "INT32", "shape": [1, 1], "data": [-1]},
                  {"name": "runtime_top_k", "datatype": "INT32", "shape": [1, 1], "data": [1]},
                  {"name": "exclude_input_in_output", "datatype": "BOOL", "shape": [1, 1], "data": [true]}],
                 "outputs": [{"name": "output_ids"}]}
                """, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
            using var restBody = System.Text.Json.JsonDocument.Parse(await rest.Content.ReadAsStringAsync());
            var restIds = Assert.Single(restBody.RootElement.GetProperty("outputs").EnumerateArray()).GetProperty("data").EnumerateArray().Select(v => v.GetInt32());
            Assert.Equal(response.GetOutput<int>(C.OutputIds).Data, restIds);

            // The Prometheus names deploy/ scales on and docs/metrics.md lists, from the process's own /metrics.
            var metrics = await http.GetStringAsync(new Uri(backend.HttpUrl, "/metrics"));
            Assert.Contains("gptj_generation_queue_length{", metrics);
            Assert.Contains("gptj_generation_sequences_running{", metrics);
            Assert.Contains("gptj_generation_kv_cache_reserved_bytes{", metrics);
            Assert.Contains("gptj_generation_kv_cache_kept_bytes{", metrics);
            Assert.Contains("gptj_generation_tokens_total{", metrics);
            Assert.Contains("gptj_generation_prompt_tokens_total{", metrics);
            Assert.Contains("gptj_generation_queue_duration_seconds_bucket{", metrics);
            Assert.Contains("gptj_generation_step_duration_seconds_bucket{", metrics);
            Assert.Contains("gen_ai_server_time_to_first_token_seconds_bucket{", metrics);
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }
    }

    [Fact]
    public async Task Process_without_AVX2_generates_the_pytorch_greedy_tokens()
    {
        // Machines without AVX2/FMA (and ARM64) run the scalar kernels; DOTNET_EnableAVX2=0 makes this machine one.
        // Three samples put the prompt through the batched kernel and decode through its three-row form.
        var reference = ReferenceFixture.Load("partial-rotary-f32");
        await using var backend = await CpuBackendProcess.StartAsync(reference.Directory("safetensors"), ("DOTNET_EnableAVX2", "0"));
        using var client = TritonInferenceClient.ForAddress(backend.GrpcUrl.ToString());
        foreach (var prompt in reference.Prompts)
        {
            var response = await client.InferAsync(Requests.Generate(prompt.Ids, prompt.Greedy.Length, samples: 3, excludeInput: true));
            var ids = response.GetOutput<int>(C.OutputIds);
            Assert.Equal([1L, 3L, prompt.Greedy.Length], ids.Shape);
            for (var sample = 0; sample < 3; sample++)
                Assert.Equal(prompt.Greedy, ids.Data.AsSpan(sample * prompt.Greedy.Length, prompt.Greedy.Length).ToArray());
        }
    }
}
