using System.Diagnostics;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>Seconds of one request of the seed's default workload in the engine alone: a 20-token prompt prefilled once,
/// forked into 10 samples, 236 new tokens each drawn with top-k 50 / top-p 0.9 (235 decode steps of 10 sequences).</summary>
/// <param name="Seconds">Prefill, sampling and decode steps; steps beyond those timed counted at the median timed step.</param>
/// <param name="RooflineSeconds">The same work if it did nothing but read every weight once per forward pass (prefill
/// and each decode step) and, in each decode step, every sample's cached keys and values once, at the measured copy
/// bandwidth. The cache is no small part: ten f32 caches of the mid-size model at 20 to 255 positions are 21 GB of reads
/// a request beside 72 GB of f16 weights.</param>
internal sealed record SeedRequest(double Seconds, double RooflineSeconds, int TimedSteps)
{
    public const int PromptTokens = 20, Samples = 10, NewTokens = 236;

    /// <summary>Decode steps of one request: the first new tokens come from the prefill's logits.</summary>
    public const int DecodeSteps = NewTokens - 1;

    private static readonly SamplingParameters Parameters = new(TopK: 50, TopP: 0.9f);

    /// <param name="timedSteps">Decode steps to run and time (at most <see cref="DecodeSteps"/>).</param>
    public static SeedRequest Run(GptjModel model, double copyBandwidth, int timedSteps)
    {
        var vocab = model.Config.VocabSize;
        var random = new Random(1);
        var prompt = Enumerable.Range(0, PromptTokens).Select(_ => random.Next(vocab)).ToArray();
        var logits = new float[Samples * vocab];
        var clock = Stopwatch.StartNew();

        // As GenerationScheduler does it: one cache sized for the whole request and touched at once, forked at that size for
        // the other samples, and the samples' tokens drawn in parallel. A growing cache copied itself as the samples
        // lengthened, and sampling one row after another left the second core idle: 9% of this benchmark's samples.
        var positions = PromptTokens + NewTokens;
        var cache = model.CreateCache(positions, KvCacheType.F32);
        model.Prefill(prompt, cache, logits);
        var caches = Enumerable.Range(0, Samples).Select(s => s == Samples - 1 ? cache : cache.Fork(positions)).ToArray();
        var samplers = Enumerable.Range(0, Samples).Select(s => new Sampler(Parameters, [], 42, s)).ToArray();
        var contexts = Enumerable.Range(0, Samples).Select(_ => new List<int>(prompt)).ToArray();
        var tokens = new int[Samples];
        for (var s = 0; s < Samples; s++) logits.AsSpan(0, vocab).CopyTo(logits.AsSpan(s * vocab, vocab));
        var steps = new List<double>();
        for (var step = 0; ; step++)
        {
            KernelThreads.For(Samples, s =>
            {
                tokens[s] = samplers[s].Next(logits.AsSpan(s * vocab, vocab), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(contexts[s])).TokenId;
                contexts[s].Add(tokens[s]);
            });
            if (step == timedSteps) break;
            var stepClock = Stopwatch.StartNew();
            model.Decode(tokens, caches, logits);
            steps.Add(stepClock.Elapsed.TotalSeconds);
        }
        // As the scheduler does when a request finishes: its blocks go to the model's pool for the next request.
        foreach (var sampleCache in caches) sampleCache.Release();
        var seconds = clock.Elapsed.TotalSeconds + (DecodeSteps - timedSteps) * MemoryBandwidth.Median(steps);
        return new SeedRequest(seconds, RooflineBytes(model) / copyBandwidth, timedSteps);
    }

    /// <summary>Bytes a request must read at least: the weights once per forward pass, and in decode step s (attending
    /// positions 0 to PromptTokens + s) each sample's keys and values of those positions.</summary>
    private static double RooflineBytes(GptjModel model)
    {
        var perPosition = KvCache.BytesPerPosition(model.Config, KvCacheType.F32);
        double cache = 0;
        for (var step = 0; step < DecodeSteps; step++) cache += (double)Samples * (PromptTokens + step + 1) * perPosition;
        return (1 + DecodeSteps) * (double)model.WeightBytesPerStep + cache;
    }
}
