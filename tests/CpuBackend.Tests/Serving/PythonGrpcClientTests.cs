using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Interop: Debian's python3-grpcio, with stubs generated now from our .proto files, calls ModelInfer and ModelStreamInfer on CpuBackend.</summary>
public sealed class PythonGrpcClientTests
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task Standard_grpc_client_gets_the_same_tokens_from_ModelInfer_and_ModelStreamInfer()
    {
        await using var backend = await BackendHost.StartAsync();
        var expected = (await backend.Client.InferAsync(Requests.Generate([5, 6, 7], 6, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;
        var stubs = Directory.CreateTempSubdirectory("kserve-python-stubs-");
        try
        {
            var protos = Path.Combine(RepositoryRoot(), "TritonClient", "Protos");
            await RunAsync(Python, ["-m", "grpc_tools.protoc", "-I", protos, "--python_out", stubs.FullName, "--grpc_python_out", stubs.FullName, "grpc_service.proto", "model_config.proto"]);
            var output = await RunAsync(Python, [Path.Combine(SourceDirectory(), "kserve_python_client.py"), stubs.FullName, new Uri(backend.Address).Authority]);

            using var result = JsonDocument.Parse(output);
            var root = result.RootElement;
            Assert.True(root.GetProperty("live").GetBoolean());
            Assert.True(root.GetProperty("model_ready").GetBoolean());
            Assert.True(root.GetProperty("decoupled").GetBoolean());
            Assert.Equal("py-unary", root.GetProperty("unary").GetProperty("id").GetString());
            Assert.Equal([1, 1, 6], Ints(root.GetProperty("unary").GetProperty("shape")));
            Assert.Equal(expected, Ints(root.GetProperty("unary").GetProperty("ids")));
            Assert.Equal(expected, Ints(root.GetProperty("stream").GetProperty("ids")));
            var finals = root.GetProperty("stream").GetProperty("finals").EnumerateArray().Select(f => f.GetBoolean()).ToArray();
            Assert.Equal([false, false, false, false, false, true], finals);
            Assert.Equal("INVALID_ARGUMENT", root.GetProperty("bad").GetProperty("code").GetString());
            Assert.Contains("'input_ids'", root.GetProperty("bad").GetProperty("details").GetString());
        }
        finally
        {
            stubs.Delete(recursive: true);
        }
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>Runs a process to completion and returns its stdout; a non-zero exit fails with its stderr. The process is killed if the test is torn down first.</summary>
    private static async Task<string> RunAsync(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        // A bound on the wait so a hung peer fails the test instead of hanging CI; not a speed assertion.
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            var stderr = process.StandardError.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
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
