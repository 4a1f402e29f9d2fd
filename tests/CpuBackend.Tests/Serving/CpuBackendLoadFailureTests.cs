using System.Text;
using GptjAspire.CpuBackend.Tests.Engine;
using GptjAspire.LocalRun.Processes;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>The real CpuBackend executable given a crafted checkpoint: it logs an error naming the file and tensor and exits with code 1.</summary>
public sealed class CpuBackendLoadFailureTests
{
    [Theory]
    [InlineData("pytorch_model.bin", "tensor 'transformer.wte.weight': its storage '0' declares 4611686018427387904 F32 elements")]
    [InlineData("model.safetensors", "safetensors header is a JSON Array, not an object of tensors")]
    public async Task Process_given_a_crafted_checkpoint_logs_the_file_and_exits_with_code_1(string fileName, string expected)
    {
        var folder = Directory.CreateTempSubdirectory("gptj-crafted-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), """{"vocab_size": 50, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
            var file = Path.Combine(folder, fileName);
            File.WriteAllBytes(file, fileName == "model.safetensors"
                ? TorchArchive.Safetensors("[]", new byte[16])
                // 2^62 F32 elements declared for a 16-byte storage, viewed in the shape config.json implies: the byte count
                // wrapped to 0, the view passed, and the host crashed with an AccessViolationException reading the weights.
                : TorchArchive.Checkpoint([new("transformer.wte.weight", "0", 1L << 62, 0, [50, 32], [32, 1])], [("0", new byte[16])]));

            var log = new StringBuilder();
            string Log() { lock (log) return log.ToString(); }
            await using var system = new LocalSystem((_, line) => { lock (log) log.AppendLine(line); }, new Dictionary<string, string> { ["Model__Path"] = folder });
            system.StartBackend();
            // Bounds on the waits so a host that never exits fails the test instead of hanging it; not speed assertions.
            var exitCode = await system.Backend!.Exited.WaitAsync(TimeSpan.FromMinutes(2));
            using var drained = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!Log().Contains(expected, StringComparison.Ordinal) && !drained.IsCancellationRequested)
                await Task.Delay(50, CancellationToken.None);

            Assert.True(exitCode == 1, $"exit code {exitCode}\n{Log()}");
            var failure = Log().Split('\n').FirstOrDefault(l => l.Contains(expected, StringComparison.Ordinal));
            Assert.True(failure is not null, $"no line says '{expected}'\n{Log()}");
            Assert.StartsWith("fail: ", failure);
            Assert.Contains($"{file}: ", failure);
            Assert.DoesNotContain("Exception", Log());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
