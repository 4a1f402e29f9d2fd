using System.Diagnostics.Metrics;
using GptjAspire.ServiceDefaults;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>The scheduler's instruments on a meter named <see cref="GenerationTelemetry.Name"/>.</summary>
internal sealed class GenerationMetrics
{
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _generatedTokens;
    private readonly Counter<long> _promptTokens;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _queueDuration;
    private readonly Histogram<double> _timeToFirstToken;

    public GenerationMetrics(IMeterFactory meterFactory, Func<int> queueLength, Func<int> runningSequences, Func<long> kvCacheReserved, Func<long> kvCacheKept)
    {
        var meter = meterFactory.Create(GenerationTelemetry.Name);
        meter.CreateObservableGauge("gptj.generation.queue.length", queueLength, "{request}", "Requests waiting for a place in the batch.");
        meter.CreateObservableGauge("gptj.generation.sequences.running", runningSequences, "{sequence}",
            "Sequences holding a place in the batch, prefilling or decoding: the running batch size.");
        meter.CreateObservableGauge("gptj.generation.kv_cache.reserved", kvCacheReserved, "By", "KV-cache bytes reserved by admitted requests, against the budget.");
        meter.CreateObservableGauge("gptj.generation.kv_cache.kept", kvCacheKept, "By",
            "KV-cache memory of finished requests kept resident for the next ones, at most an eighteenth of the budget.");
        _batchSize = meter.CreateHistogram<int>("gptj.generation.batch.size", "{sequence}", "Sequences decoded together in one step.");
        _stepDuration = meter.CreateHistogram<double>("gptj.generation.step.duration", "s", "Duration of one batched decode step, sampling included.",
            advice: GenAiBuckets.TokenSeconds);
        _generatedTokens = meter.CreateCounter<long>("gptj.generation.tokens", "{token}", "Tokens generated; its rate is the tokens/s.");
        _promptTokens = meter.CreateCounter<long>("gptj.generation.prompt.tokens", "{token}", "Prompt tokens prefilled, one add per chunk, once per request whatever its sample count.");
        _rejected = meter.CreateCounter<long>("gptj.generation.rejected", "{request}", "Requests refused at once: queue full, or a KV cache larger than the whole budget (tag reason).");
        _queueDuration = meter.CreateHistogram<double>("gptj.generation.queue.duration", "s", "Time a request waited in the queue before it joined the batch.",
            advice: GenAiBuckets.FirstTokenSeconds);
        // OpenTelemetry's GenAI semantic conventions name the model server's view of this latency.
        _timeToFirstToken = meter.CreateHistogram<double>("gen_ai.server.time_to_first_token", "s",
            "Time from a request's arrival to its first generated token (queue and prefill included).", advice: GenAiBuckets.FirstTokenSeconds);
    }

    public void Admitted(TimeSpan waited) => _queueDuration.Record(waited.TotalSeconds);

    public void FirstToken(TimeSpan sinceArrival) => _timeToFirstToken.Record(sinceArrival.TotalSeconds);

    public void Prefilled(int promptTokens) => _promptTokens.Add(promptTokens);

    public void Generated(int tokens) => _generatedTokens.Add(tokens);

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Stepped(int batchSize, TimeSpan duration)
    {
        _stepDuration.Record(duration.TotalSeconds);
        _batchSize.Record(batchSize);
    }
}
