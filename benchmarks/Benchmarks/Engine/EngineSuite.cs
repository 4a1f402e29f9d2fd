using System.Diagnostics;
using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>Workload sizes shared by our engine and the PyTorch anchor.</summary>
/// <remarks><see cref="Threads"/> is the anchor's thread count; our engine always uses every core, so it is the core count.
/// <see cref="Repeats"/> timed prefills on each side, after one warm-up: on the 16-core device machines the prefills of one
/// process spread to 1.5-1.8x the fastest, single ones to 4-5x (a preempted thread holds up a parallel loop), which a
/// median of five did not settle.</remarks>
internal sealed record EngineRunSettings(int Threads, string Python, int PrefillTokens = 200, int DecodePrompt = 32, int DecodeSteps = 32, int Batch = 10, int Repeats = 15);

/// <summary>Measured memory bandwidths, bytes per second.</summary>
internal sealed record Bandwidth(double Copy, double Read);

/// <summary>Our engine's throughput on one model in one storage type.</summary>
/// <remarks>The roofline fractions are medians over decode steps of (weight bytes per step / step time) / bandwidth sampled just before that step;
/// the batch-to-single ratio is the median over alternating pairs of steps of (batch tokens/s) / (batch-1 tokens/s). Both, and
/// the decode rates, leave out the <paramref name="DipRounds"/> of <paramref name="Rounds"/> rounds whose bandwidth sample fell
/// in a dip (<see cref="EngineSuite.DipFraction"/>), unless every round did.</remarks>
internal sealed record EngineTimings(double PrefillTokensPerSecond, double Decode1TokensPerSecond, double DecodeBatchTokensPerSecond, double BatchToSingleRatio,
    double CopyRooflineFraction, double ReadRooflineFraction, int DipRounds, int Rounds);

/// <summary>The <c>engine</c> suite: GPT-J decode/prefill throughput against PyTorch eager and against this machine's memory roofline.</summary>
/// <remarks>Usage: <c>engine [--work DIR] [--python PATH] [--skip-6b] [--only-6b] [--keep] [--6b-layers N]</c> (N &lt; 28 for machines short of disk or memory;
/// PATH the Python with torch for the anchor, default /usr/bin/python3, Debian's). The mid-size checkpoint (~0.8 GB) is kept
/// under DIR (default artifacts/engine-bench) for reruns; the GPT-J 6B shape (~12 GB of f16) is written to DIR, measured and deleted.</remarks>
internal static class EngineSuite
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(Run(args));

    private static int Run(string[] args)
    {
        var root = RepositoryPaths.Root;
        var work = Option(args, "--work") ?? Path.Combine(root, "artifacts", "engine-bench");
        var settings = new EngineRunSettings(Environment.ProcessorCount, Option(args, "--python") ?? "/usr/bin/python3");
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        var logger = loggers.CreateLogger("engine");

        Console.WriteLine($"engine suite: {Environment.ProcessorCount} cores, load average {LoadAverage()}, threads {settings.Threads}");
        KernelComparison.Run();
        if (args.Contains("--only-kernels"))
        {
            // In-cache multiply-add rates of the batched kernels, for A/B runs of one build under different DOTNET_Enable* switches.
            foreach (var rows in new[] { settings.Batch, settings.PrefillTokens })
                Console.WriteLine($"in-cache kernel rate at {rows} rows: " + string.Join(", ", Enum.GetValues<WeightType>().Select(t => $"{t} {KernelRate.MultiplyAddsPerSecond(t, rows) / 1e9:F1} G/s")));
            return 0;
        }
        Bandwidth bandwidth;
        // The probe's 1 GB of buffers is freed before the 6B run, whose resident memory is a result.
        using (var probe = new MemoryBandwidth())
        {
            bandwidth = probe.Measure();
            Console.WriteLine($"memory bandwidth: copy {bandwidth.Copy / 1e9:F2} GB/s (read + written, STREAM convention), read-only {bandwidth.Read / 1e9:F2} GB/s");
            if (!args.Contains("--only-6b")) MidSize(root, work, settings, probe, bandwidth, logger);
        }
        if (!args.Contains("--skip-6b")) FullSize(work, logger, keep: args.Contains("--keep"),
            layers: int.Parse(Option(args, "--6b-layers") ?? "28", System.Globalization.CultureInfo.InvariantCulture));
        Console.WriteLine($"load average at the end: {LoadAverage()}");
        return 0;
    }

    private const string OpenBlas = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

    private static void MidSize(string root, string work, EngineRunSettings settings, MemoryBandwidth probe, Bandwidth reference, ILogger logger)
    {
        var shape = GptjShape.MidSize;
        var directory = Path.Combine(work, shape.Name);
        if (!File.Exists(Path.Combine(directory, "model.safetensors")))
        {
            Console.WriteLine($"writing random f32 {shape.Name} to {directory}");
            RandomGptjCheckpoint.Write(directory, shape, WeightType.F32);
        }

        // Debian's python3-torch is built with BLAS_INFO=generic and uses whatever libblas.so.3 the system
        // alternative selects; the reference BLAS there is 20-45x slower than OpenBLAS. OpenBLAS, when
        // installed, is loaded into the child process only, as the stronger anchor. A pip-installed torch (the
        // many-core machines) brings its own BLAS, which the path does not change.
        var blas = Directory.Exists(OpenBlas) ? OpenBlas : null;
        Console.WriteLine($"PyTorch eager f32 (child process, {(blas == null ? "the BLAS its torch loads" : $"OpenBLAS from {blas}")}) ...");
        var torch = PytorchAnchor.Run(root, directory, settings, blas);
        Console.WriteLine($"PyTorch f32: prefill {torch.PrefillTokensPerSecond:F1} tok/s, decode b1 {torch.Decode1TokensPerSecond:F2} tok/s, " +
                          $"decode b{settings.Batch} {torch.DecodeBatchTokensPerSecond:F2} tok/s");

        var rows = new List<string>();
        var seedRows = new List<string>();
        foreach (var storage in new[] { WeightType.F32, WeightType.F16, WeightType.Int8 })
        {
            using var model = GptjModel.Load(directory, storage, logger);
            var t = Measure(model, settings, probe, reference);
            // A server's requests after its first find the KV blocks of earlier ones in the model's pool (KvMemory); the
            // first pays for fresh memory (450-510 ms of page faults on the 2-vCPU VM), so both are printed.
            var first = SeedRequest.Run(model, probe.Measure(3).Copy, SeedRequest.DecodeSteps);
            var seed = SeedRequest.Run(model, probe.Measure(3).Copy, SeedRequest.DecodeSteps);
            seedRows.Add($"| {shape.Name} | {storage} | {seed.Seconds:F2} | {first.Seconds:F2} | {seed.RooflineSeconds:F2} ({seed.RooflineSeconds / seed.Seconds:P0}) | all {seed.TimedSteps} |");
            Console.WriteLine(seedRows[^1]);
            // Compute roofline of the batch: the rate its products would need at 5x batch 1 with nothing else in the step,
            // against the peak of the instruction they are made of.
            var multiplyAddsPerToken = (double)model.WeightMultiplyAddsPerToken;
            var fiveTimes = 5 * t.Decode1TokensPerSecond * multiplyAddsPerToken;
            var achieved = t.DecodeBatchTokensPerSecond * multiplyAddsPerToken;
            var peak = InstructionPeak.For(storage);
            var compute = peak == null
                ? $"products {achieved / 1e9:F1} G/s, 5x b1 needs {fiveTimes / 1e9:F1} G/s"
                : $"products {achieved / 1e9:F1} G/s = {achieved / peak.MultiplyAddsPerSecond:P0} of {peak.Instruction} peak {peak.MultiplyAddsPerSecond / 1e9:F0} G/s, " +
                  $"5x b1 needs {fiveTimes / 1e9:F1} G/s = {fiveTimes / peak.MultiplyAddsPerSecond:P0}";
            rows.Add($"| {storage,-5} | {model.WeightBytesPerStep / 1e6,7:F0} MB | " +
                     $"{t.Decode1TokensPerSecond,7:F2} ({t.Decode1TokensPerSecond / torch.Decode1TokensPerSecond:F2}x PT; roofline {t.CopyRooflineFraction:P0} copy, {t.ReadRooflineFraction:P0} read{Dips(t)}) | " +
                     $"{t.DecodeBatchTokensPerSecond,7:F2} ({t.DecodeBatchTokensPerSecond / torch.DecodeBatchTokensPerSecond:F2}x PT, {t.BatchToSingleRatio:F2}x b1; " +
                     $"{compute}) | " +
                     $"{t.PrefillTokensPerSecond,7:F1} ({t.PrefillTokensPerSecond / torch.PrefillTokensPerSecond:F2}x PT) |");
            Console.WriteLine(rows[^1]);
        }
        Console.WriteLine();
        Console.WriteLine($"{shape.Name} (8 layers x 1024, vocab 50400), {settings.Threads} threads, medians; PT = PyTorch eager f32 in this run " +
                          $"(decode b1 {torch.Decode1TokensPerSecond:F2}, b{settings.Batch} {torch.DecodeBatchTokensPerSecond:F2}, prefill {torch.PrefillTokensPerSecond:F1} tok/s)");
        Console.WriteLine($"| dtype | weights/step | decode b1 tok/s | decode b{settings.Batch} tok/s | prefill {settings.PrefillTokens} tok/s |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var row in rows) Console.WriteLine(row);
        PrintSeedTable(seedRows);
    }

    private static void PrintSeedTable(List<string> rows)
    {
        Console.WriteLine();
        Console.WriteLine($"seed workload per request: {SeedRequest.PromptTokens}-token prompt, {SeedRequest.Samples} samples x {SeedRequest.NewTokens} new tokens, top-k 50 / top-p 0.9");
        Console.WriteLine("| model | storage | seconds/request | the first request, s | memory roofline s (fraction) | decode steps timed |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var row in rows) Console.WriteLine(row);
    }

    private static void FullSize(string work, ILogger logger, bool keep, int layers)
    {
        var shape = GptjShape.Gptj6B with { Layers = layers, Name = layers == 28 ? "gptj-6b" : $"gptj-6b-{layers}-layers" };
        var directory = Path.Combine(work, shape.Name);
        // A shape cut to fewer layers (a machine short of memory) has its times and rooflines scaled by the
        // ratio of weight multiply-adds per token, the full 28 layers over these (lm_head included in both).
        var scale = (double)GptjShape.Gptj6B.WeightMultiplyAdds / shape.WeightMultiplyAdds;
        var scaled = layers == 28 ? "" : $", scaled x{scale:F2} from {layers} layers";
        var seedRows = new List<string>();
        try
        {
            if (!File.Exists(Path.Combine(directory, "model.safetensors")))
            {
                var writing = Stopwatch.StartNew();
                RandomGptjCheckpoint.Write(directory, shape, WeightType.F16);
                Console.WriteLine($"wrote random f16 {shape.Name} ({new FileInfo(Path.Combine(directory, "model.safetensors")).Length / 1e9:F1} GB) in {writing.Elapsed.TotalSeconds:F0}s");
            }
            foreach (var storage in new WeightType?[] { null, WeightType.Int8 })
            {
                var clock = Stopwatch.StartNew();
                using var model = GptjModel.Load(directory, storage, logger);
                var loadSeconds = clock.Elapsed.TotalSeconds;
                var residentAfterLoad = Environment.WorkingSet;
                // The probe's buffers are taken after the resident set after loading is read, and given back before it is
                // read after decoding.
                DecodeOneTimings one;
                double seedBandwidth;
                using (var probe = new MemoryBandwidth())
                {
                    one = DecodeOne(model, probe);
                    seedBandwidth = probe.Measure(3).Copy;
                }
                var perToken = one.Seconds * scale;
                var name = storage == null ? "f16 (as stored)" : "int8 (quantized at load)";
                Console.WriteLine($"{shape.Name} {name}: load {loadSeconds:F1}s, resident {residentAfterLoad / 1e9:F2} GB after load, " +
                                  $"{Environment.WorkingSet / 1e9:F2} GB after decoding; {perToken:F2} s/token{scaled}; weights/step {model.WeightBytesPerStep * scale / 1e9:F2} GB; " +
                                  $"roofline {one.CopyFraction:P0} of copy, {one.ReadFraction:P0} of read (medians of {one.Rounds} rounds; " +
                                  $"copy {one.CopyRange.Min / 1e9:F1}-{one.CopyRange.Max / 1e9:F1} GB/s)");
                // A batch-10 step of the 6B shape takes seconds here: a few are timed, the rest counted at their median.
                var seed = SeedRequest.Run(model, seedBandwidth, 3);
                seedRows.Add($"| {shape.Name} | {storage?.ToString() ?? "F16"} | {seed.Seconds * scale:F1}{scaled} | (this one) | {seed.RooflineSeconds * scale:F1} ({seed.RooflineSeconds / seed.Seconds:P0}) | {seed.TimedSteps} of {SeedRequest.DecodeSteps} |");
                Console.WriteLine(seedRows[^1]);
            }
            PrintSeedTable(seedRows);
        }
        finally
        {
            if (!keep && Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Batch-1 decode after an 8-token prompt, in rounds of a bandwidth sample and two timed steps: the median step,
    /// and the medians of the rounds' roofline fractions, each against the bandwidth sampled right before its steps.</summary>
    /// <remarks>A 6B run takes minutes, over which this host's copy bandwidth switched between about 50 and 90 GB/s; against
    /// one sample from the start of the suite, the fraction read 85-97% in runs of the same code.</remarks>
    private static DecodeOneTimings DecodeOne(GptjModel model, MemoryBandwidth probe)
    {
        const int Rounds = 5, StepsPerRound = 2;
        var cache = model.CreateCache();
        var logits = new float[model.Config.VocabSize];
        model.Prefill(Enumerable.Range(0, 8).Select(i => 1000 + i).ToArray(), cache, logits);
        var token = ArgMax(logits);
        double Step()
        {
            var clock = Stopwatch.StartNew();
            model.Decode([token], [cache], logits);
            var seconds = clock.Elapsed.TotalSeconds;
            token = ArgMax(logits);
            return seconds;
        }
        Step();
        var rounds = new List<(double Copy, double Read, List<double> Steps)>();
        for (var r = 0; r < Rounds; r++)
        {
            var (copy, read) = probe.Measure(3);
            rounds.Add((copy, read, Enumerable.Range(0, StepsPerRound).Select(_ => Step()).ToList()));
        }
        double Fraction(double bandwidth, List<double> steps) => model.WeightBytesPerStep / MemoryBandwidth.Median(steps) / bandwidth;
        return new DecodeOneTimings(MemoryBandwidth.Median(rounds.SelectMany(r => r.Steps).ToList()),
            MemoryBandwidth.Median(rounds.Select(r => Fraction(r.Copy, r.Steps)).ToList()),
            MemoryBandwidth.Median(rounds.Select(r => Fraction(r.Read, r.Steps)).ToList()),
            Rounds, (rounds.Min(r => r.Copy), rounds.Max(r => r.Copy)));
    }

    private sealed record DecodeOneTimings(double Seconds, double CopyFraction, double ReadFraction, int Rounds, (double Min, double Max) CopyRange);

    private static EngineTimings Measure(GptjModel model, EngineRunSettings s, MemoryBandwidth probe, Bandwidth reference)
    {
        var vocab = model.Config.VocabSize;
        var random = new Random(0);
        var prompt = Enumerable.Range(0, s.PrefillTokens).Select(_ => random.Next(vocab)).ToArray();
        var logits = new float[s.Batch * vocab];
        // Warm-up on the measured path: with an 8-token prompt the first timed prefill paid for compiling kernels of
        // other row counts and faulting in buffers, and with three repeats that skewed the median (f32 read 400 tok/s
        // in the suite against 717 in a loop of the same calls).
        model.Prefill(prompt, model.CreateCache(), logits);

        var prefill = new List<double>();
        for (var r = 0; r < s.Repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            model.Prefill(prompt, model.CreateCache(), logits);
            prefill.Add(clock.Elapsed.TotalSeconds);
        }

        // Batch-1 and batch steps alternate in short runs, so their ratio compares neighbouring moments of a drifting
        // machine, while each timed step follows a step of its own kind, as in serving. Timing the step right after the
        // bandwidth probe (or after a step of the other size) measured the probe's dirty lines being written back and
        // the kernel threads waking up: int8 batch 1 read 64-68% of the copy roofline that way, 77% in a loop of steps.
        var first = model.CreateCache();
        model.Prefill(prompt[..s.DecodePrompt], first, logits);
        var start = ArgMax(logits.AsSpan(0, vocab));
        var single = new DecodeRun(model, [first.Fork()], start);
        var batch = new DecodeRun(model, Enumerable.Range(0, s.Batch).Select(_ => first.Fork()).ToArray(), start);
        const int RunLength = 4;
        var rounds = new List<DecodeRound>();
        for (var run = 0; run < s.DecodeSteps / RunLength; run++)
        {
            // Medians of three passes: one pass of each kind swung 38-72 GB/s between runs on the quiet machine.
            var (copy, read) = probe.Measure(3);
            rounds.Add(new DecodeRound(copy, read, single.Run(RunLength), batch.Run(RunLength)));
        }
        // A shared host's bandwidth can halve for tens of seconds: batch 1, a stream of weights, then slows with it while the
        // ten-row step, mostly arithmetic, hardly does, and their ratio reads 6.6x instead of 4.2x. Those rounds are left out.
        var best = Math.Max(reference.Copy, rounds.Max(r => r.Copy));
        var kept = rounds.Where(r => r.Copy >= DipFraction * best).ToList();
        if (kept.Count == 0) kept = rounds;
        // Roofline: a step that did nothing but stream its weights once at the bandwidth of that moment.
        return new EngineTimings(s.PrefillTokens / MemoryBandwidth.Median(prefill),
            1 / MemoryBandwidth.Median(kept.SelectMany(r => r.Single).ToList()),
            s.Batch / MemoryBandwidth.Median(kept.SelectMany(r => r.Batch).ToList()),
            MemoryBandwidth.Median(kept.Select(r => s.Batch * r.SingleStep / r.BatchStep).ToList()),
            MemoryBandwidth.Median(kept.Select(r => model.WeightBytesPerStep / r.SingleStep / r.Copy).ToList()),
            MemoryBandwidth.Median(kept.Select(r => model.WeightBytesPerStep / r.SingleStep / r.Read).ToList()),
            rounds.Count - kept.Count, rounds.Count);
    }

    /// <summary>A round is in a bandwidth dip when its copy bandwidth sample is below this fraction of the best in the run.</summary>
    internal const double DipFraction = 0.75;

    /// <summary>One round of decode: the bandwidth sampled before it, then the seconds of its batch-1 steps and its batch steps.</summary>
    private sealed record DecodeRound(double Copy, double Read, List<double> Single, List<double> Batch)
    {
        /// <summary>The median seconds of the round's batch-1 steps.</summary>
        public double SingleStep { get; } = MemoryBandwidth.Median(Single);

        /// <summary>The median seconds of the round's batch steps.</summary>
        public double BatchStep { get; } = MemoryBandwidth.Median(Batch);
    }

    /// <summary>Greedy decode of one set of sequences, a step at a time, recording each step's seconds.</summary>
    private sealed class DecodeRun(GptjModel model, KvCache[] caches, int token)
    {
        private readonly int[] tokens = Enumerable.Repeat(token, caches.Length).ToArray();
        private readonly float[] logits = new float[caches.Length * model.Config.VocabSize];

        /// <summary>One untimed step (it follows other work), then <paramref name="steps"/> timed; their seconds.</summary>
        public List<double> Run(int steps)
        {
            Step();
            var times = new List<double>();
            for (var i = 0; i < steps; i++) times.Add(Step());
            return times;
        }

        private double Step()
        {
            var clock = Stopwatch.StartNew();
            model.Decode(tokens, caches, logits);
            var seconds = clock.Elapsed.TotalSeconds;
            var vocab = model.Config.VocabSize;
            for (var b = 0; b < tokens.Length; b++) tokens[b] = ArgMax(logits.AsSpan(b * vocab, vocab));
            return seconds;
        }
    }

    private static string Dips(EngineTimings t) =>
        t.DipRounds == 0 ? "" :
        t.DipRounds == t.Rounds ? $"; all {t.Rounds} rounds in a bandwidth dip" :
        $"; {t.DipRounds} of {t.Rounds} rounds left out, bandwidth under {DipFraction:P0} of the run's best";

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    internal static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
