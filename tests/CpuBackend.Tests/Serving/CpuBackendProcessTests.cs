using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
        start.Environment["Model__Path"] = checkpoint;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("CpuBackend did not start.");
        var log = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            // A bound on the wait so a broken start fails the test instead of hanging it; not a speed assertion.
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!await IsHealthyAsync(http, "/health", limit.Token))
            {
                Assert.False(process.HasExited, $"CpuBackend exited with {(process.HasExited ? process.ExitCode : 0)}:\n{log}");
                await Task.Delay(100, limit.Token);
            }
            Assert.True(await IsHealthyAsync(http, "/alive", limit.Token));

            using var client = TritonInferenceClient.ForAddress($"http://127.0.0.1:{grpcPort}");
            Assert.True(await client.IsServerReadyAsync());
            var response = await client.InferAsync(Requests.Generate([5, 6], 3, excludeInput: true));
            Assert.Equal([1L, 1L, 3L], response.GetOutput<int>(C.OutputIds).Shape);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            Directory.Delete(checkpoint, recursive: true);
        }
    }

    private static async Task<bool> IsHealthyAsync(HttpClient http, string path, CancellationToken cancellationToken)
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
