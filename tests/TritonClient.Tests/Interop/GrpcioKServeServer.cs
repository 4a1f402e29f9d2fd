using System.Diagnostics;
using System.Runtime.CompilerServices;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.TritonClient.Tests.Interop;

/// <summary>kserve_python_server.py (Debian python3-grpcio, stubs generated now from TritonClient's .proto) in a child process, and a TritonClient connected to it.</summary>
public sealed class GrpcioKServeServer : IAsyncLifetime
{
    private const string Python = "/usr/bin/python3";
    private DirectoryInfo _stubs = null!;
    private Process _server = null!;

    public TritonInferenceClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _stubs = Directory.CreateTempSubdirectory("kserve-grpcio-server-");
        var protos = Path.Combine(RepositoryRoot(), "TritonClient", "Protos");
        using (var protoc = Start(["-m", "grpc_tools.protoc", "-I", protos, "--python_out", _stubs.FullName, "--grpc_python_out", _stubs.FullName, "grpc_service.proto", "model_config.proto"]))
        {
            await protoc.WaitForExitAsync();
            Assert.True(protoc.ExitCode == 0, await protoc.StandardError.ReadToEndAsync());
        }
        _server = Start([Path.Combine(SourceDirectory(), "kserve_python_server.py"), _stubs.FullName]);
        // A bound on the wait so a broken peer fails the tests instead of hanging them; not a speed assertion.
        var port = await _server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(int.TryParse(port, out _), $"the grpcio server did not start: {port} {(_server.HasExited ? await _server.StandardError.ReadToEndAsync() : "")}");
        Client = TritonInferenceClient.ForAddress($"http://127.0.0.1:{port}");
    }

    /// <summary>Waits until the server recorded how a request ended ("cancelled:id", "ended:id"), as its RepositoryIndex lists them.</summary>
    public async Task WaitForServerToRecordAsync(string entry)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!(await Client.GetRepositoryIndexAsync(cancellationToken: limit.Token)).Models.Any(m => m.Name == entry))
        {
            await Task.Delay(20, limit.Token);
        }
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        _server.StandardInput.Close();
        if (!_server.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            _server.Kill(entireProcessTree: true);
        }
        await _server.WaitForExitAsync();
        _server.Dispose();
        _stubs.Delete(recursive: true);
    }

    private static Process Start(string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(SourceDirectory());
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "GptjAspire.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("GptjAspire.sln not found above the test sources.");
    }
}
