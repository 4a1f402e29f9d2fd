using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>
/// The real CpuBackend executable (built beside the tests through the project reference) as a child process,
/// configured only by the variables every launcher sets: Kestrel endpoints on free loopback ports and Model__Path.
/// Disposing kills it and waits for it to end.
/// </summary>
public sealed class CpuBackendProcess : IAsyncDisposable
{
    // A bound on the wait so a broken start fails the test instead of hanging it; not a speed assertion.
    private static readonly TimeSpan HealthyGuard = TimeSpan.FromMinutes(2);

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private CpuBackendProcess(Process process, int httpPort, int grpcPort)
    {
        _process = process;
        HttpUrl = new Uri($"http://127.0.0.1:{httpPort}");
        GrpcUrl = new Uri($"http://127.0.0.1:{grpcPort}");
    }

    /// <summary>The `http` endpoint: /health and /alive.</summary>
    public Uri HttpUrl { get; }

    /// <summary>The KServe v2 gRPC endpoint (cleartext HTTP/2).</summary>
    public Uri GrpcUrl { get; }

    /// <summary>Starts CpuBackend on <paramref name="modelPath"/> with extra <paramref name="environment"/> and waits until /health answers 200;
    /// fails with the process's own output when it exits or never gets there.</summary>
    public static async Task<CpuBackendProcess> StartAsync(string modelPath, params (string Name, string Value)[] environment)
    {
        var (httpPort, grpcPort) = (FreePort(), FreePort());
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CpuBackend.dll"));
        start.Environment["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}";
        start.Environment["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}";
        start.Environment["Kestrel__Endpoints__grpc__Protocols"] = "Http2";
        start.Environment["Model__Path"] = modelPath;
        foreach (var (name, value) in environment)
            start.Environment[name] = value;

        var backend = new CpuBackendProcess(new Process { StartInfo = start }, httpPort, grpcPort);
        backend._process.OutputDataReceived += backend.Keep;
        backend._process.ErrorDataReceived += backend.Keep;
        backend._process.Start();
        backend._process.BeginOutputReadLine();
        backend._process.BeginErrorReadLine();
        try
        {
            await backend.WaitHealthyAsync();
            return backend;
        }
        catch (Exception e)
        {
            await backend.DisposeAsync();
            lock (backend._output)
                throw new InvalidOperationException($"CpuBackend did not become healthy: {e.Message}\n{backend._output}", e);
        }
    }

    private async Task WaitHealthyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var guard = new CancellationTokenSource(HealthyGuard);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"it exited with code {_process.ExitCode}.");
            try
            {
                using var response = await http.GetAsync(new Uri(HttpUrl, "/health"), guard.Token);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), guard.Token);
        }
    }

    private void Keep(object sender, DataReceivedEventArgs line)
    {
        if (line.Data is not null)
            lock (_output)
                _output.AppendLine(line.Data);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
