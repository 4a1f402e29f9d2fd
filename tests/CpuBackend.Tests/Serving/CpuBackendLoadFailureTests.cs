using GptjAspire.CpuBackend.Tests.Engine;

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
            File.WriteAllText(Path.Combine(folder, "config.json"), """{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
            var file = Path.Combine(folder, fileName);
            File.WriteAllBytes(file, fileName == "model.safetensors"
                ? TorchArchive.Safetensors("[]", new byte[16])
                // 2^62 F32 elements declared for a 16-byte storage, viewed in the shape config.json implies: the byte count
                // wrapped to 0, the view passed, and the host crashed with an AccessViolationException reading the weights.
                : TorchArchive.Checkpoint([new("transformer.wte.weight", "0", 1L << 62, 0, [50, 32], [32, 1])], [("0", new byte[16])]));

            // One line per log entry, so the level ("fail:") and the message can be read together.
            await using var backend = CpuBackendProcess.Launch(folder,
                ("Logging__Console__FormatterName", "simple"), ("Logging__Console__FormatterOptions__SingleLine", "true"));
            // A bound on the wait so a host that never exits fails the test instead of hanging it; not a speed assertion.
            using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var exitCode = await backend.WaitForExitAsync(guard.Token);
            string Log() => backend.Output;

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
