using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using GptjAspire.Benchmarks.Engine;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Scheduler;

/// <summary>The <c>scheduler</c> suite: inter-token latency of running streams while long prompts arrive, prefill chunking off (the anchor) against on.</summary>
/// <remarks>Usage: <c>scheduler [--work DIR] [--rounds N] [--chunk TOKENS] [--prompt TOKENS]</c>. Eight greedy streams decode on a
/// random GPT-J of 4 layers x 512 (vocabulary 50400, context 2048) while prompts of 1,500 tokens arrive one after another,
/// each after the streams have had a few steps alone. Every gap between two tokens of a stream inside that window counts.
/// Rounds alternate off/on so both see the same drift of a shared machine; the ratio is the median of per-round ratios.</remarks>
internal static class ChunkedPrefillSuite
{
    private const int Streams = 8;
    private const int LongPrompts = 3;
    private const int StepsBetweenPrompts = 8;

    public static async Task<int> RunAsync(string[] args)
    {
        var work = EngineSuite.Option(args, "--work") ?? Path.Combine(RepositoryPaths.Root, "artifacts", "scheduler-bench");
        var rounds = int.Parse(EngineSuite.Option(args, "--rounds") ?? "5", CultureInfo.InvariantCulture);
        var chunk = int.Parse(EngineSuite.Option(args, "--chunk") ?? "256", CultureInfo.InvariantCulture);
        var promptTokens = int.Parse(EngineSuite.Option(args, "--prompt") ?? "1500", CultureInfo.InvariantCulture);
        var shape = GptjShape.Small;
        var directory = Path.Combine(work, shape.Name);
        if (!File.Exists(Path.Combine(directory, "model.safetensors")))
        {
            Console.WriteLine($"writing random f32 {shape.Name} to {directory}");
            RandomGptjCheckpoint.Write(directory, shape, WeightType.F32);
        }
        using var model = GptjModel.Load(directory, null, NullLogger.Instance);
        Console.WriteLine($"scheduler suite: {Environment.ProcessorCount} cores, load average {EngineSuite.LoadAverage()}; {shape.Name}, " +
                          $"{Streams} streams, {LongPrompts} prompts of {promptTokens} tokens per round, chunk {chunk} tokens against no chunking");

        await MeasureAsync(model, chunk, promptTokens); // warm-up: JIT, thread pool, page cache
        var off = new List<Window>();
        var on = new List<Window>();
        for (var round = 0; round < rounds; round++)
        {
            off.Add(await MeasureAsync(model, 0, promptTokens));
            on.Add(await MeasureAsync(model, chunk, promptTokens));
            Console.WriteLine($"round {round + 1}: off {off[^1]} | on {on[^1]}");
        }

        Console.WriteLine();
        Console.WriteLine("| prefill | p50 gap ms | p99 gap ms | max gap ms | prompt first token ms |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var (name, windows) in new[] { ("whole (off)", off), ($"chunks of {chunk}", on) })
            Console.WriteLine($"| {name} | {Median(windows.Select(w => w.P50)):F1} | {Median(windows.Select(w => w.P99)):F1} | " +
                              $"{Median(windows.Select(w => w.Max)):F1} | {Median(windows.Select(w => w.PromptFirstToken)):F0} |");
        Console.WriteLine($"p99 gap, chunked / whole: median {Median(off.Zip(on, (a, b) => b.P99 / a.P99)):F2} over {rounds} rounds; " +
                          $"prompt first token, chunked / whole: {Median(off.Zip(on, (a, b) => b.PromptFirstToken / a.PromptFirstToken)):F2}");
        Console.WriteLine($"load average at the end: {EngineSuite.LoadAverage()} (a shared machine: compare ratios, not absolute figures)");
        return 0;
    }

    /// <summary>Gaps between consecutive tokens of the running streams (ms) while the long prompts were arriving, and the prompts' median time to first token.</summary>
    private sealed record Window(double P50, double P99, double Max, double PromptFirstToken)
    {
        public override string ToString() => $"p50 {P50:F1} p99 {P99:F1} max {Max:F1} ms, prompt first token {PromptFirstToken:F0} ms";
    }

    private static async Task<Window> MeasureAsync(GptjModel model, int chunkTokens, int promptTokens)
    {
        var options = new GenerationOptions
        {
            MaxBatchSequences = 16,
            KvCacheBudgetBytes = 1L << 40, // not what is measured here
            PrefillChunkTokens = chunkTokens,
        };
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var scheduler = new GenerationScheduler(model, Options.Create(options), services.GetRequiredService<IMeterFactory>(), NullLogger<GenerationScheduler>.Instance);
        using var stop = new CancellationTokenSource();
        var context = model.Config.ContextLength;
        var arrivals = Enumerable.Range(0, Streams).Select(_ => new ConcurrentQueue<long>()).ToArray();
        var streams = Enumerable.Range(0, Streams).Select(s => Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in scheduler.Generate(Request(Prompt(16, s), context - 17), stop.Token).ConfigureAwait(false))
                    arrivals[s].Enqueue(Stopwatch.GetTimestamp());
            }
            catch (OperationCanceledException)
            {
            }
        })).ToArray();

        await StepsAsync(arrivals[0], 5);
        var start = Stopwatch.GetTimestamp();
        var firstTokens = new List<double>();
        for (var p = 0; p < LongPrompts; p++)
        {
            var sent = Stopwatch.GetTimestamp();
            await foreach (var _ in scheduler.Generate(Request(Prompt(promptTokens, 100 + p), 1), CancellationToken.None).ConfigureAwait(false))
                firstTokens.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            await StepsAsync(arrivals[0], StepsBetweenPrompts);
        }
        var end = Stopwatch.GetTimestamp();
        await stop.CancelAsync();
        await Task.WhenAll(streams);

        var gaps = arrivals.SelectMany(times => times.Zip(times.Skip(1))
                .Where(pair => pair.Second > start && pair.First < end)
                .Select(pair => Stopwatch.GetElapsedTime(pair.First, pair.Second).TotalMilliseconds))
            .Order().ToArray();
        return new Window(Percentile(gaps, 0.5), Percentile(gaps, 0.99), gaps[^1], Median(firstTokens));
    }

    /// <summary>Waits until <paramref name="stream"/> has received <paramref name="steps"/> more tokens.</summary>
    private static async Task StepsAsync(ConcurrentQueue<long> stream, int steps)
    {
        var target = stream.Count + steps;
        while (stream.Count < target)
            await Task.Delay(2);
    }

    private static GenerationRequest Request(int[] prompt, int maxNewTokens) =>
        new(Guid.NewGuid().ToString("N"), prompt, maxNewTokens, 1, new SamplingParameters(TopK: 1), EndId: null, StopWords: [], BadWords: []);

    private static int[] Prompt(int length, int salt) => Enumerable.Range(0, length).Select(i => (i * 7919 + salt * 104729) % 50000).ToArray();

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
