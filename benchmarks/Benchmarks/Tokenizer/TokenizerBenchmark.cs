using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GptjAspire.Tokenizer;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Tokenizer;

/// <summary>Single-thread encode/decode throughput of our tokenizer against Hugging Face tokenizers (npm binding) on the Vietnamese corpus.</summary>
/// <remarks>
/// Usage: <c>Benchmarks tokenizer [--corpus artifacts/corpus/vi.txt] [--repeats 7]</c>. The corpus comes from
/// <c>tools/corpus/build_vi_corpus.py</c>; HF runs in a node child process (<c>tools/tokenizer/bench_hf.js</c>, after
/// <c>npm ci</c> there) with <c>TOKENIZERS_PARALLELISM=false</c>, calling <c>encodeBatch</c>/<c>decodeBatch</c> on all lines.
/// Repetitions alternate HF / ours so load from other processes hits both alike; throughput is reported on process CPU
/// time (robust on a shared machine) and on wall time.
/// </remarks>
internal static class TokenizerBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var repo = RepositoryPaths.Root;
        var corpus = Path.GetFullPath(Option(args, "--corpus") ?? Path.Combine(repo, "artifacts", "corpus", "vi.txt"));
        var repeats = int.Parse(Option(args, "--repeats") ?? "7", CultureInfo.InvariantCulture);
        var fixtures = Path.Combine(repo, "tests", "Tokenizer.Tests", "Fixtures");
        var tools = Path.Combine(repo, "tools", "tokenizer");
        if (!File.Exists(corpus))
        {
            Console.Error.WriteLine($"corpus {corpus} not found: run /usr/bin/python3 tools/corpus/build_vi_corpus.py first");
            return 2;
        }
        if (!Directory.Exists(Path.Combine(tools, "node_modules", "tokenizers")))
        {
            Console.Error.WriteLine($"HF tokenizers not installed: run `npm ci` in {tools}");
            return 2;
        }

        var lines = File.ReadAllLines(corpus).Where(l => l.Length > 0).ToArray();
        var bytes = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l));
        Console.WriteLine($"corpus: {corpus}, {lines.Length} lines, {bytes / 1e6:F2} MB UTF-8; {repeats} alternating repeats, medians, one thread each");

        using var hf = HuggingFaceProcess.Start(tools, fixtures, corpus);
        Console.WriteLine($"{"vocab",-5} {"op",-6} | {"CPU MB/s ours",13} {"HF",6} {"Mtok/s ours",11} {"HF",6} {"ratio",6} | {"wall MB/s ours",14} {"HF",6} {"ratio",6}");
        foreach (var vocab in new[] { "vi", "gpt2" })
        {
            // HF has no NFC step; the corpus is NFC already, so ours only pays the (cheap) check.
            var tokenizer = BpeTokenizer.FromDirectory(Path.Combine(fixtures, vocab), new TokenizerOptions { NormalizeToNfc = false });
            var ids = lines.Select(tokenizer.Encode).ToArray(); // warm-up: JIT and the per-word cache, like HF's warm-up call
            var tokens = ids.Sum(x => (long)x.Length);
            var hfTokens = (await hf.RunAsync(vocab, "warmup")).Tokens;
            if (hfTokens != tokens)
            {
                Console.Error.WriteLine($"{vocab}: token counts differ (ours {tokens}, HF {hfTokens}): parity is broken, numbers would be meaningless");
                return 1;
            }

            // Production default: NFC check (and normalization where needed) before encoding; HF has no such step.
            var withNfc = BpeTokenizer.FromDirectory(Path.Combine(fixtures, vocab));
            var encode = new Samples(repeats);
            var encodeNfc = new Samples(repeats);
            var decode = new Samples(repeats);
            for (var r = 0; r < repeats; r++)
            {
                var hfEncode = await hf.RunAsync(vocab, "encode");
                encode.AddHf(hfEncode);
                encode.AddOurs(Measure(() =>
                {
                    for (var i = 0; i < lines.Length; i++)
                    {
                        ids[i] = tokenizer.Encode(lines[i]);
                    }
                }));
                encodeNfc.AddHf(hfEncode);
                encodeNfc.AddOurs(Measure(() =>
                {
                    foreach (var line in lines)
                    {
                        _ = withNfc.Encode(line);
                    }
                }));
                decode.AddHf(await hf.RunAsync(vocab, "decode"));
                decode.AddOurs(Measure(() =>
                {
                    foreach (var sequence in ids)
                    {
                        _ = tokenizer.Decode(sequence);
                    }
                }));
            }
            encode.Report(vocab, "encode", bytes, tokens);
            encodeNfc.Report(vocab, "+NFC", bytes, tokens);
            decode.Report(vocab, "decode", bytes, tokens);
        }
        return 0;
    }

    private static Timing Measure(Action work)
    {
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        work();
        var wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return new Timing(wall, (process.TotalProcessorTime - cpu).TotalSeconds, 0);
    }

    private sealed record Timing(double WallSeconds, double CpuSeconds, long Tokens);

    private sealed class Samples(int capacity)
    {
        private readonly List<Timing> ours = new(capacity);
        private readonly List<Timing> hf = new(capacity);

        public void AddOurs(Timing t) => ours.Add(t);

        public void AddHf(Timing t) => hf.Add(t);

        public void Report(string vocab, string op, long bytes, long tokens)
        {
            double Cpu(List<Timing> list) => Median(list.Select(t => t.CpuSeconds));
            double Wall(List<Timing> list) => Median(list.Select(t => t.WallSeconds));
            Console.WriteLine(
                $"{vocab,-5} {op,-6} | {bytes / 1e6 / Cpu(ours),13:F1} {bytes / 1e6 / Cpu(hf),6:F1} {tokens / 1e6 / Cpu(ours),11:F2} {tokens / 1e6 / Cpu(hf),6:F2} {Cpu(hf) / Cpu(ours),5:F1}x" +
                $" | {bytes / 1e6 / Wall(ours),14:F1} {bytes / 1e6 / Wall(hf),6:F1} {Wall(hf) / Wall(ours),5:F1}x");
        }
    }

    /// <summary>The node process running HF tokenizers, one timed batch per command.</summary>
    private sealed class HuggingFaceProcess : IDisposable
    {
        private readonly Process node;

        private HuggingFaceProcess(Process node) => this.node = node;

        public static HuggingFaceProcess Start(string tools, string fixtures, string corpus)
        {
            var start = new ProcessStartInfo("node")
            {
                WorkingDirectory = tools,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("bench_hf.js");
            start.ArgumentList.Add(fixtures);
            start.ArgumentList.Add(corpus);
            // One thread: HF's batch encode is rayon-parallel unless TOKENIZERS_PARALLELISM is false.
            start.Environment["TOKENIZERS_PARALLELISM"] = "false";
            start.Environment["RAYON_NUM_THREADS"] = "1";
            var node = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
            var ready = node.StandardOutput.ReadLine();
            if (ready is null || !ready.Contains("\"ready\":true", StringComparison.Ordinal))
            {
                node.Kill();
                throw new InvalidOperationException($"bench_hf.js did not start: {ready}");
            }
            return new HuggingFaceProcess(node);
        }

        public async Task<Timing> RunAsync(string vocab, string op)
        {
            await node.StandardInput.WriteLineAsync($"{vocab} {op}");
            await node.StandardInput.FlushAsync();
            var line = await node.StandardOutput.ReadLineAsync()
                ?? throw new InvalidOperationException($"bench_hf.js exited during '{vocab} {op}'");
            return JsonSerializer.Deserialize<Timing>(line, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        }

        public void Dispose()
        {
            node.StandardInput.Close();
            if (!node.WaitForExit(5000))
            {
                node.Kill();
            }
            node.Dispose();
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
