using System.Diagnostics;
using System.Text;
using GptjAspire.Testing;

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
        var backend = Launch(modelPath, environment);
        try
        {
            await backend.WaitHealthyAsync();
            return backend;
        }
        catch (Exception e)
        {
            await backend.DisposeAsync();
            throw new InvalidOperationException($"CpuBackend did not become healthy: {e.Message}\n{backend.Output}", e);
        }
    }

    /// <summary>Starts CpuBackend without waiting for it to become healthy: for a process that is expected to fail.</summary>
    public static CpuBackendProcess Launch(string modelPath, params (string Name, string Value)[] environment)
    {
        var (httpPort, grpcPort) = (LoopbackPorts.Free(), LoopbackPorts.Free());
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
        return backend;
    }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>Waits for the process to exit on its own (and for its output to be drained) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    private Task WaitHealthyAsync() => HealthProbe.WaitAsync(_process, new Uri(HttpUrl, "/health"), HealthyGuard);

    private void Keep(object sender, DataReceivedEventArgs line)
    {
        if (line.Data is not null)
            lock (_output)
                _output.AppendLine(line.Data);
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
