using System.Diagnostics;
using System.Text.Json;

namespace GptjAspire.GrpcTransport.Tests.Interop;

/// <summary>Debian's python3-grpcio (C-core) as the interop peer: generates Python stubs from our .proto files and runs the peer scripts.</summary>
public sealed class PythonPeer : IDisposable
{
    /// <summary>Debian's interpreter, which has python3-grpcio and python3-grpc-tools (the first python3 on PATH may not).</summary>
    private const string Python = "/usr/bin/python3";

    private PythonPeer(string stubsDirectory) => StubsDirectory = stubsDirectory;

    public string StubsDirectory { get; }

    private static string ScriptsDirectory => Path.Combine(AppContext.BaseDirectory, "Interop", "python");

    public static async Task<PythonPeer> CreateAsync()
    {
        var stubs = Directory.CreateTempSubdirectory("gptj-grpc-interop-").FullName;
        var protos = Path.Combine(AppContext.BaseDirectory, "Protos");
        await RunToEndAsync(["-m", "grpc_tools.protoc", $"-I{protos}", $"--python_out={stubs}", $"--grpc_python_out={stubs}", "transport/testing/v1/test_service.proto"]);
        // health.proto is compiled from its own folder: a generated "grpc" package would shadow grpcio's.
        await RunToEndAsync(["-m", "grpc_tools.protoc", $"-I{Path.Combine(protos, "grpc", "health", "v1")}", $"--python_out={stubs}", $"--grpc_python_out={stubs}", "health.proto"]);
        return new PythonPeer(stubs);
    }

    /// <summary>Starts the grpcio server; it listens on a free loopback port.</summary>
    public async Task<PythonServer> StartServerAsync()
    {
        var process = Start([Path.Combine(ScriptsDirectory, "interop_server.py"), StubsDirectory], redirectInput: true);
        try
        {
            var firstLine = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (!int.TryParse(firstLine, out var port))
            {
                throw new InvalidOperationException($"grpcio server did not report its port: {firstLine} {await process.StandardError.ReadToEndAsync()}");
            }
            return new PythonServer(process, port);
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    /// <summary>Runs one client scenario against a target and returns what the grpcio client observed.</summary>
    public async Task<JsonElement> RunClientAsync(Uri target, string scenario, params string[] args)
    {
        var output = await RunToEndAsync([Path.Combine(ScriptsDirectory, "interop_client.py"), StubsDirectory, $"{target.Host}:{target.Port}", scenario, .. args]);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    public void Dispose() => Directory.Delete(StubsDirectory, recursive: true);

    private static async Task<string> RunToEndAsync(string[] arguments)
    {
        using var process = Start(arguments, redirectInput: false);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            // A generous bound so a hung peer fails the test instead of hanging the run; not a speed check.
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"python3 {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}");
            }
            return await stdout;
        }
        finally
        {
            Stop(process);
        }
    }

    private static Process Start(string[] arguments, bool redirectInput)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["PYTHONIOENCODING"] = "utf-8";
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException("Could not start /usr/bin/python3.");
    }

    internal static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}

/// <summary>A running grpcio server process, killed on dispose.</summary>
public sealed class PythonServer(Process process, int port) : IDisposable
{
    public Uri Address { get; } = new($"http://127.0.0.1:{port}");

    public void Dispose()
    {
        PythonPeer.Stop(process);
        process.Dispose();
    }
}
