using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
            await using var backend = await BackendProcess.StartAsync(checkpoint);
            Assert.True(await backend.IsHealthyAsync("/alive"));

            using var client = TritonInferenceClient.ForAddress(backend.GrpcAddress);
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
        await using var backend = await BackendProcess.StartAsync(reference.Directory("safetensors"), ("DOTNET_EnableAVX2", "0"));
        using var client = TritonInferenceClient.ForAddress(backend.GrpcAddress);
        foreach (var prompt in reference.Prompts)
        {
            var response = await client.InferAsync(Requests.Generate(prompt.Ids, prompt.Greedy.Length, samples: 3, excludeInput: true));
            var ids = response.GetOutput<int>(C.OutputIds);
            Assert.Equal([1L, 3L, prompt.Greedy.Length], ids.Shape);
            for (var sample = 0; sample < 3; sample++)
                Assert.Equal(prompt.Greedy, ids.Data.AsSpan(sample * prompt.Greedy.Length, prompt.Greedy.Length).ToArray());
        }
    }

    /// <summary>A CpuBackend child process on free ports, healthy once started; killed on dispose.</summary>
    private sealed class BackendProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly System.Text.StringBuilder log = new();
        private readonly HttpClient http;

        private BackendProcess(Process process, int httpPort, int grpcPort)
        {
            this.process = process;
            http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            GrpcAddress = $"http://127.0.0.1:{grpcPort}";
            process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string GrpcAddress { get; }

        public static async Task<BackendProcess> StartAsync(string modelPath, params (string Name, string Value)[] environment)
        {
            var (httpPort, grpcPort) = (FreePort(), FreePort());
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CpuBackend.dll"));
            start.Environment["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}";
            start.Environment["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}";
            start.Environment["Kestrel__Endpoints__grpc__Protocols"] = "Http2";
            start.Environment["Model__Path"] = modelPath;
            foreach (var (name, value) in environment) start.Environment[name] = value;
            var backend = new BackendProcess(Process.Start(start) ?? throw new InvalidOperationException("CpuBackend did not start."), httpPort, grpcPort);
            try
            {
                // A bound on the wait so a broken start fails the test instead of hanging it; not a speed assertion.
                using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                while (!await backend.IsHealthyAsync("/health", limit.Token))
                {
                    Assert.False(backend.process.HasExited, $"CpuBackend exited with {(backend.process.HasExited ? backend.process.ExitCode : 0)}:\n{backend.Log}");
                    await Task.Delay(100, limit.Token);
                }
                return backend;
            }
            catch
            {
                await backend.DisposeAsync();
                throw;
            }
        }

        private string Log
        {
            get { lock (log) { return log.ToString(); } }
        }

        public async Task<bool> IsHealthyAsync(string path, CancellationToken cancellationToken = default)
        {
            try
            {
                using var response = await http.GetAsync(path, cancellationToken);
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
