using System.Diagnostics;
using System.Text.Json;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>PyTorch eager timings of the same checkpoint, from tools/gptj_reference/torch_bench.py run as a child process.</summary>
internal sealed record PytorchAnchor(double PrefillTokensPerSecond, double Decode1TokensPerSecond, double DecodeBatchTokensPerSecond)
{
    /// <summary>Runs the anchor; <paramref name="blasDirectory"/> puts another libblas.so.3 first on the library path of that child only.</summary>
    public static PytorchAnchor Run(string repositoryRoot, string modelDirectory, EngineRunSettings settings, string? blasDirectory = null)
    {
        var script = Path.Combine(repositoryRoot, "tools", "gptj_reference", "torch_bench.py");
        var start = new ProcessStartInfo(settings.Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (blasDirectory != null) start.Environment["LD_LIBRARY_PATH"] = blasDirectory;
        foreach (var a in new[]
                 {
                     script, "--model-dir", modelDirectory, "--threads", settings.Threads.ToString(),
                     "--prefill-tokens", settings.PrefillTokens.ToString(), "--decode-prompt", settings.DecodePrompt.ToString(),
                     "--decode-steps", settings.DecodeSteps.ToString(), "--batch", settings.Batch.ToString(),
                     "--repeats", settings.Repeats.ToString(),
                 })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {settings.Python}");
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"torch_bench.py exited with {process.ExitCode}: {errors.Result}");
        using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var root = json.RootElement;
        return new PytorchAnchor(
            root.GetProperty("prefill_tokens_per_s").GetDouble(),
            root.GetProperty("decode1_tokens_per_s").GetDouble(),
            root.GetProperty("decode_batch_tokens_per_s").GetDouble());
    }
}
