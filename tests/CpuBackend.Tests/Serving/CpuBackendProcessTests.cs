using System.Net;
using GptjAspire.CpuBackend.Tests.Engine;
using GptjAspire.LocalRun.Processes;
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
            await using var system = await StartBackendAsync(checkpoint);
            using var http = new HttpClient();
            using var alive = await http.GetAsync($"http://127.0.0.1:{system.BackendHttpPort}/alive");
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

            using var client = TritonInferenceClient.ForAddress(system.BackendGrpcUrl.ToString());
            Assert.True(await client.IsServerReadyAsync());
            var response = await client.InferAsync(Requests.Generate([5, 6], 3, excludeInput: true));
            Assert.Equal([1L, 1L, 3L], response.GetOutput<int>(C.OutputIds).Shape);
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
        await using var system = await StartBackendAsync(reference.Directory("safetensors"), ("DOTNET_EnableAVX2", "0"));
        using var client = TritonInferenceClient.ForAddress(system.BackendGrpcUrl.ToString());
        foreach (var prompt in reference.Prompts)
        {
            var response = await client.InferAsync(Requests.Generate(prompt.Ids, prompt.Greedy.Length, samples: 3, excludeInput: true));
            var ids = response.GetOutput<int>(C.OutputIds);
            Assert.Equal([1L, 3L, prompt.Greedy.Length], ids.Shape);
            for (var sample = 0; sample < 3; sample++)
                Assert.Equal(prompt.Greedy, ids.Data.AsSpan(sample * prompt.Greedy.Length, prompt.Greedy.Length).ToArray());
        }
    }

    /// <summary>CpuBackend alone, started by LocalRun's launcher on free ports and healthy; its output is kept for the failure message.</summary>
    private static async Task<LocalSystem> StartBackendAsync(string modelPath, params (string Name, string Value)[] environment)
    {
        var log = new System.Text.StringBuilder();
        var variables = environment.ToDictionary(v => v.Name, v => v.Value);
        variables["Model__Path"] = modelPath;
        var system = new LocalSystem((_, line) => { lock (log) log.AppendLine(line); }, variables);
        try
        {
            system.StartBackend();
            // A bound on the wait so a broken start fails the test instead of hanging it; not a speed assertion.
            await system.WaitHealthyAsync(TimeSpan.FromMinutes(2), CancellationToken.None);
            return system;
        }
        catch (Exception e)
        {
            await system.DisposeAsync();
            lock (log) throw new InvalidOperationException($"CpuBackend did not become healthy: {e.Message}\n{log}", e);
        }
    }
}
