using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptjAspire.Testing;

namespace GptjAspire.Tests.Grpcio;

/// <summary>
/// Debian's python3-grpcio (C-core) as the peer of our interop tests: Python stubs generated now from our
/// <c>.proto</c> files into a temporary folder (never committed), and the scripts of <c>tests/Grpcio</c> run
/// against them, as servers (on a free port they print) or as clients (printing one JSON object).
/// Every process started here is killed on dispose, and a server also exits when its stdin closes, so even a test
/// host that dies leaves none behind.
/// </summary>
/// <remarks>Linked into each test project that talks to grpcio, so there is one copy of this.</remarks>
public sealed class GrpcioPeer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    // A bound on every wait, so a broken or hung peer fails the test instead of hanging CI; not a speed assertion.
    private static readonly TimeSpan WaitLimit = TimeSpan.FromMinutes(3);

    private readonly DirectoryInfo _stubs;
    private readonly List<Process> _servers = [];

    private GrpcioPeer(DirectoryInfo stubs) => _stubs = stubs;

    /// <summary>Generates the stubs of the KServe service and of gptj.v1.Preprocessor with grpc_tools.protoc.</summary>
    public static async Task<GrpcioPeer> CreateAsync()
    {
        var peer = new GrpcioPeer(Directory.CreateTempSubdirectory("grpcio-stubs-"));
        try
        {
            await peer.ProtocAsync(RepositoryPaths.Combine("TritonClient", "Protos"), "grpc_service.proto", "model_config.proto");
            await peer.ProtocAsync(peer.WithoutProto3Optional(RepositoryPaths.Combine("Preprocessor", "Protos"), "gptj/v1/preprocessor.proto"), "gptj/v1/preprocessor.proto");
            return peer;
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts <paramref name="script"/> (a server of tests/Grpcio), waits until it prints its port and returns <c>http://127.0.0.1:port</c>.</summary>
    public async Task<string> StartServerAsync(string script, params string[] arguments)
    {
        var server = Start([Path.Combine(ScriptDirectory(), script), .. arguments]);
        _servers.Add(server);
        var port = await server.StandardOutput.ReadLineAsync().WaitAsync(WaitLimit);
        if (!int.TryParse(port, out _))
        {
            throw new InvalidOperationException($"{script} did not start ({port}): {(server.HasExited ? await server.StandardError.ReadToEndAsync() : "still running")}");
        }
        return $"http://127.0.0.1:{port}";
    }

    /// <summary>Runs <paramref name="script"/> (a client of tests/Grpcio) to its end and returns the JSON object it prints.</summary>
    public async Task<JsonElement> RunClientAsync(string script, params string[] arguments)
    {
        using var result = JsonDocument.Parse(await RunAsync([Path.Combine(ScriptDirectory(), script), .. arguments]));
        return result.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            server.StandardInput.Close();
            if (!await ExitedAsync(server, TimeSpan.FromSeconds(10)))
            {
                Stop(server);
            }
            server.Dispose();
        }
        _stubs.Delete(recursive: true);
    }

    private Task ProtocAsync(string protoRoot, params string[] protos) =>
        RunAsync(["-m", "grpc_tools.protoc", "-I", protoRoot, "--python_out", _stubs.FullName, "--grpc_python_out", _stubs.FullName, .. protos]);

    /// <summary>
    /// A copy of the .proto under the stub folder with each <c>optional</c> field written as the one-field oneof that
    /// proto3 defines it to be (a "synthetic oneof": same field numbers and wire format, the same HasField in Python).
    /// Debian's python3-grpc-tools bundles protoc 3.5, which predates the <c>optional</c> keyword.
    /// </summary>
    private string WithoutProto3Optional(string protoRoot, string proto)
    {
        var root = Path.Combine(_stubs.FullName, "protos");
        var copy = Path.Combine(root, proto);
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.WriteAllText(copy, Regex.Replace(File.ReadAllText(Path.Combine(protoRoot, proto)),
            @"\boptional\s+(\w+)\s+(\w+)\s*=\s*(\d+)\s*;", "oneof _$2 { $1 $2 = $3; }"));
        return root;
    }

    /// <summary>Runs Python to its end and returns its stdout; a non-zero exit fails with its stderr.</summary>
    private async Task<string> RunAsync(string[] arguments)
    {
        using var process = Start(arguments);
        using var limit = new CancellationTokenSource(WaitLimit);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            var stderr = process.StandardError.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);
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

    private Process Start(string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.Environment["PYTHONPATH"] = _stubs.FullName;
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
    }

    private static async Task<bool> ExitedAsync(Process process, TimeSpan within)
    {
        using var limit = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(limit.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private static string ScriptDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
