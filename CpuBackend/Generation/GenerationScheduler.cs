using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.ExceptionServices;
using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Runs generation requests with continuous batching: a dedicated thread admits waiting requests between steps and decodes every running sequence in one model call per step.</summary>
/// <remarks>
/// Each step: requests whose reader cancelled leave; waiting requests that fit in
/// <see cref="GenerationOptions.MaxBatchSequences"/> and in the <see cref="KvCacheBudget"/> are admitted; up to
/// <see cref="GenerationOptions.PrefillChunkTokens"/> prompt tokens are prefilled (a prompt whose last chunk is in is
/// forked into n caches and its first tokens sampled from the shared last logits); then one
/// <see cref="GptjModel.Decode"/> over all running sequences and one <see cref="GenerationStep"/> per request. Same
/// shape as TGI's router loop, in one process. Each phase and each finished step is reported to a
/// <see cref="GenerationWatchdog"/>, so a wedged loop shows in <see cref="Stall"/>.
/// </remarks>
public sealed partial class GenerationScheduler : IDisposable
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(10);

    private readonly GptjModel _model;
    private readonly GenerationOptions _options;
    private readonly ILogger _logger;
    private readonly GenerationMetrics _metrics;
    private readonly KvCacheBudget _budget;
    private readonly GenerationWatchdog _watchdog;
    private readonly Thread _loop;

    private readonly Lock _gate = new();
    private readonly LinkedList<ScheduledRequest> _waiting = new(); // guarded by _gate
    private readonly ManualResetEventSlim _wake = new(false);
    private bool _stopping; // guarded by _gate

    // Loop thread only.
    private readonly List<ScheduledRequest> _prefilling = []; // admitted, prompt not yet fully in the cache; arrival order
    private readonly List<ScheduledRequest> _running = [];
    private int _placesTaken; // batch places held: every sequence of a prefilling request, the live ones of a running request (written by the loop, read by the metrics)
    private float[] _logits = [];
    private long _progressStart = Stopwatch.GetTimestamp();
    private long _progressTokens;

    /// <param name="time">The clock of the stall timeout and of the statistics' last inference; tests pass a fake one.</param>
    public GenerationScheduler(GptjModel model, IOptions<GenerationOptions> options, IMeterFactory meterFactory, ILogger<GenerationScheduler> logger, TimeProvider? time = null)
    {
        _model = model;
        _options = options.Value;
        GenerationOptionsValidation.ThrowIfInvalid(_options);
        _logger = logger;
        _budget = new KvCacheBudget(_options.KvCacheBudgetBytes ?? KvCacheBudget.Default(model.WeightBytes));
        // Freed cache blocks kept for reuse take at most half of the tenth of memory the default budget leaves free.
        model.KvMemoryPool.Limit = _budget.CapacityBytes / 18;
        _metrics = new GenerationMetrics(meterFactory, QueueLength, () => Volatile.Read(ref _placesTaken), () => _budget.ReservedBytes,
            () => model.KvMemoryPool.RetainedBytes);
        time ??= TimeProvider.System;
        Statistics = new ModelStatisticsRecorder(time);
        _watchdog = new GenerationWatchdog(_options.StallTimeout, time, OldestWaiting, logger);
        LogBudget(_budget.CapacityBytes, _options.KvCacheType, KvCache.BytesPerPosition(model.Config, _options.KvCacheType));
        _loop = new Thread(Run) { IsBackground = true, Name = "gptj-generation" };
        _loop.Start();
    }

    /// <summary>The KV-cache bytes running requests hold, against the budget.</summary>
    public KvCacheBudget Budget => _budget;

    /// <summary>Triton's statistics of the model this scheduler runs; the server adds whole requests, inputs and outputs.</summary>
    public ModelStatisticsRecorder Statistics { get; }

    /// <summary>Token positions that the whole <see cref="Budget"/> holds: the most any request's prompt + sequences × new
    /// tokens can be (its samples share the prompt's positions), and at least what sequences × (prompt + new tokens), the
    /// count of a backend whose samples each hold the prompt (<c>max_tokens_in_paged_kv_cache</c>), allows.</summary>
    public long KvCacheCapacityPositions => _budget.CapacityBytes / KvCache.BytesPerPosition(_model.Config, _options.KvCacheType);

    /// <summary>Non-null while the loop is wedged (work pending, no step finished within <see cref="GenerationOptions.StallTimeout"/>) or dead.</summary>
    public GenerationStall? Stall => _watchdog.Current;

    /// <summary>Throws the <see cref="InvalidGenerationRequestException"/> that <see cref="Generate"/> would, for a caller that
    /// checks a request before it allocates anything per sequence (a client's n can be as large as an int).</summary>
    public void ThrowIfInvalid(GenerationRequest request) => GenerationRequestValidation.ThrowIfInvalid(request, _model.Config, _options);

    /// <summary>Queues a request and returns its steps as they are generated.</summary>
    /// <remarks>Throws at once: <see cref="ArgumentException"/> for a bad request (naming the field),
    /// <see cref="KvCacheBudgetExceededException"/> when its KV cache is larger than the whole budget,
    /// <see cref="QueueFullException"/> when the queue is full, <see cref="ObjectDisposedException"/> after disposal.
    /// The stream ends after the step where every sequence has a <see cref="FinishReason"/>; it throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires (the request leaves the
    /// batch at the next step) and the engine's exception when the model fails. Leaving the enumeration early also
    /// cancels the request.</remarks>
    /// <param name="stepsAtEnd">Hold the steps until the request completes (for a caller that answers with the whole
    /// result); a cancelled or failed request then yields none before its exception.</param>
    public IAsyncEnumerable<GenerationStep> Generate(GenerationRequest request, CancellationToken cancellationToken, bool stepsAtEnd = false)
    {
        ThrowIfInvalid(request);
        cancellationToken.ThrowIfCancellationRequested();

        var positions = (int)Math.Min((long)request.PromptIds.Length + request.MaxNewTokens, _model.Config.ContextLength);
        // The samples' caches are forks that read the prompt's positions from the prefilled one (KvCache.Fork): the prompt
        // is held once, and each sequence holds its own new positions.
        var newPositions = positions - request.PromptIds.Length;
        var bytes = ((long)request.PromptIds.Length + (long)request.NumSequences * newPositions) * KvCache.BytesPerPosition(_model.Config, _options.KvCacheType);
        if (bytes > _budget.CapacityBytes)
        {
            _metrics.Rejected("kv_cache_budget");
            LogNeverFits(request.Id, bytes, _budget.CapacityBytes);
            throw new KvCacheBudgetExceededException(bytes, _budget.CapacityBytes, request.PromptIds.Length, request.NumSequences, newPositions);
        }

        var scheduled = new ScheduledRequest(request, positions, bytes, cancellationToken, StartActivity(request), stepsAtEnd);
        lock (_gate)
        {
            if (_stopping)
            {
                scheduled.Fail(new ObjectDisposedException(nameof(GenerationScheduler)));
                throw new ObjectDisposedException(nameof(GenerationScheduler));
            }
            if (_waiting.Count >= _options.MaxQueuedRequests)
            {
                _metrics.Rejected("queue_full");
                scheduled.Fail(new QueueFullException(_options.MaxQueuedRequests));
                LogQueueFull(request.Id, _options.MaxQueuedRequests);
                throw new QueueFullException(_options.MaxQueuedRequests);
            }
            scheduled.QueueNode = _waiting.AddLast(scheduled);
        }
        scheduled.OnCancelled(Withdraw);
        _wake.Set();
        return scheduled.ReadSteps(cancellationToken);
    }

    /// <summary>Stops the loop; requests still queued or running fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
        }
        _wake.Set();
        _loop.Join();
        _watchdog.Dispose();
        var stopped = new ObjectDisposedException(nameof(GenerationScheduler));
        foreach (var request in TakeAllWaiting().Concat(_prefilling).Concat(_running))
            request.Fail(stopped);
        _prefilling.Clear();
        _running.Clear();
        // _wake is not disposed: a Generate racing with Dispose may still Set it, and without a WaitHandle it holds nothing.
    }

    private int QueueLength()
    {
        lock (_gate)
            return _waiting.Count;
    }

    private TimeSpan? OldestWaiting()
    {
        lock (_gate)
            return _waiting.First?.Value.Age;
    }

    private static Activity? StartActivity(GenerationRequest request)
    {
        // Started on the caller's thread so the span's parent is the incoming call; the loop thread ends it.
        var previous = Activity.Current;
        var activity = GenerationTelemetry.ActivitySource.StartActivity("generate");
        Activity.Current = previous;
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("gen_ai.request.id", request.Id);
            activity.SetTag("gen_ai.request.max_tokens", request.MaxNewTokens);
            activity.SetTag("gen_ai.request.choice.count", request.NumSequences);
            activity.SetTag("gen_ai.request.top_k", request.Sampling.TopK);
            activity.SetTag("gen_ai.request.top_p", request.Sampling.TopP);
            activity.SetTag("gen_ai.request.temperature", request.Sampling.Temperature);
            activity.SetTag("gen_ai.usage.input_tokens", request.PromptIds.Length);
        }
        return activity;
    }

    /// <summary>Cancellation callback: a waiting request leaves the queue now; a running one at the loop's next step.</summary>
    private void Withdraw(ScheduledRequest request)
    {
        lock (_gate)
        {
            if (request.QueueNode is null)
                return;
            _waiting.Remove(request.QueueNode);
            request.QueueNode = null;
        }
        request.Cancel();
        LogCancelled(request.Request.Id, 0);
    }

    private List<ScheduledRequest> TakeAllWaiting()
    {
        lock (_gate)
        {
            var all = _waiting.ToList();
            _waiting.Clear();
            foreach (var request in all)
                request.QueueNode = null;
            return all;
        }
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                RemoveCancelled(); // first, so that their places go to waiting requests in this very step
                lock (_gate)
                {
                    if (_stopping)
                        return;
                    _wake.Reset();
                    _prefilling.AddRange(TakeAdmissible());
                }
                if (_prefilling.Count == 0 && _running.Count == 0)
                {
                    _watchdog.Enter(GenerationPhase.Idle);
                    _wake.Wait();
                    _progressStart = Stopwatch.GetTimestamp(); // the rate logged is over busy time only
                    _progressTokens = 0;
                    continue;
                }

                PrefillChunks();
                if (_running.Count > 0)
                    Step();
                _watchdog.StepFinished();
                LogProgressEvery(ProgressInterval);
            }
        }
        catch (Exception error)
        {
            // Only a bug in the loop itself gets here: fail everyone rather than leave streams hanging.
            LogLoopFailed(error);
            _watchdog.LoopFailed();
            lock (_gate)
                _stopping = true;
            foreach (var request in TakeAllWaiting().Concat(_prefilling).Concat(_running))
                request.Fail(error); // a no-op for requests already finished
            _prefilling.Clear();
            _running.Clear();
        }
    }

    /// <summary>Waiting requests, oldest first, while their samples fit in the batch and their KV cache in the budget (first come, first served: no overtaking).</summary>
    /// <remarks>Nothing waits forever: a request larger than the whole budget was refused in <see cref="Generate"/>, so
    /// the head fits once the requests ahead of it have finished.</remarks>
    private List<ScheduledRequest> TakeAdmissible()
    {
        var admitted = new List<ScheduledRequest>();
        while (_waiting.First is { } node
            && node.Value.Request.NumSequences <= _options.MaxBatchSequences - _placesTaken
            && node.Value.TryReserve(_budget))
        {
            _placesTaken += node.Value.Request.NumSequences;
            _waiting.RemoveFirst();
            node.Value.QueueNode = null;
            admitted.Add(node.Value);
            node.Value.Admit();
            var waited = node.Value.Age;
            _metrics.Admitted(waited);
            Statistics.Queued(waited);
        }
        return admitted;
    }

    private void RemoveCancelled()
    {
        for (var i = _prefilling.Count - 1; i >= 0; i--)
        {
            var request = _prefilling[i];
            if (!request.IsCancelled)
                continue;
            _prefilling.RemoveAt(i);
            _placesTaken -= request.Request.NumSequences;
            request.Cancel();
            LogCancelled(request.Request.Id, 0);
        }
        for (var i = _running.Count - 1; i >= 0; i--)
        {
            var request = _running[i];
            if (!request.IsCancelled)
                continue;
            _running.RemoveAt(i);
            _placesTaken -= request.Sequences.Count(s => s.Finish == FinishReason.None);
            request.Cancel();
            LogCancelled(request.Request.Id, request.GeneratedTokens);
        }
    }

    /// <summary>Prefills admitted prompts in arrival order, at most <see cref="GenerationOptions.PrefillChunkTokens"/> tokens in all (unlimited when 0); a prompt whose last chunk is in starts running.</summary>
    private void PrefillChunks()
    {
        var budget = _options.PrefillChunkTokens == 0 ? int.MaxValue : _options.PrefillChunkTokens;
        while (budget > 0 && _prefilling.Count > 0)
        {
            var request = _prefilling[0];
            if (request.IsCancelled)
            {
                // Cancelled since RemoveCancelled ran (just admitted, or between two chunks): no chunk for it.
                _prefilling.RemoveAt(0);
                _placesTaken -= request.Request.NumSequences;
                request.Cancel();
                LogCancelled(request.Request.Id, 0);
                continue;
            }
            _watchdog.Enter(GenerationPhase.Prefill);
            var prompt = request.Request.PromptIds;
            int chunk;
            try
            {
                if (request.Prefill is null)
                {
                    request.Activity?.AddEvent(new ActivityEvent("admitted"));
                    request.Prefill = new PromptPrefill(_model.CreateCache(request.Positions, _options.KvCacheType), _model.Config.VocabSize);
                }
                var prefill = request.Prefill;
                chunk = Math.Min(budget, prompt.Length - prefill.Done);
                var started = Stopwatch.GetTimestamp();
                _model.Prefill(prompt.AsSpan(prefill.Done, chunk), prefill.Cache, prefill.LastLogits);
                prefill.Elapsed += Stopwatch.GetElapsedTime(started);
                _metrics.Prefilled(chunk);
            }
            catch (Exception error)
            {
                LogRequestFailed(error, request.Request.Id);
                _prefilling.RemoveAt(0);
                _placesTaken -= request.Request.NumSequences;
                request.Fail(error);
                continue;
            }
            budget -= chunk;
            if (request.Prefill.Done < prompt.Length)
                continue; // only when the budget ran out: the rest comes in the next steps
            _prefilling.RemoveAt(0);
            Start(request);
        }
    }

    /// <summary>A prompt is in its cache: forks the cache for every sample, samples each first token from the shared logits and joins the running batch.</summary>
    private void Start(ScheduledRequest request)
    {
        var r = request.Request;
        var vocab = _model.Config.VocabSize;
        var prefill = request.Prefill!;
        request.Prefill = null;
        try
        {
            LogAdmitted(r.Id, r.PromptIds.Length, r.NumSequences, prefill.Elapsed.TotalMilliseconds, request.Age.TotalMilliseconds);
            EnsureLogitRows(r.NumSequences);
            for (var i = 0; i < r.NumSequences; i++)
            {
                // Fork before the last sample takes the prefilled cache itself: every fork reads the prompt's positions from it.
                var sequenceCache = i == r.NumSequences - 1 ? prefill.Cache : prefill.Cache.Fork(request.Positions);
                request.Sequences.Add(new ScheduledSequence(i, sequenceCache, new Sampler(r.Sampling, r.BadWords, request.Seed, i, r.PromptIds.Length, r.EndId), r.PromptIds, request.Positions));
                prefill.LastLogits.CopyTo(_logits.AsSpan(i * vocab, vocab));
            }
            var sampled = SampleRows(request.Sequences);
            if (Array.Find(sampled.Errors, e => e is not null) is { } samplingError)
                ExceptionDispatchInfo.Throw(samplingError); // keeps the sampler's stack trace
            var tokens = new SequenceToken[r.NumSequences];
            for (var i = 0; i < r.NumSequences; i++)
                tokens[i] = request.Sequences[i].Append(sampled.Tokens[i], r, _model.Config.ContextLength);
            request.Emit(new GenerationStep(tokens));
            _metrics.FirstToken(request.Age);
            _metrics.Generated(tokens.Length);
            _progressTokens += tokens.Length;
        }
        catch (Exception error)
        {
            LogRequestFailed(error, r.Id);
            _placesTaken -= r.NumSequences;
            request.Fail(error);
            return;
        }

        var live = request.Sequences.Count(s => s.Finish == FinishReason.None);
        _placesTaken -= r.NumSequences - live;
        if (live == 0)
        {
            Finish(request);
            return;
        }
        _running.Add(request);
    }

    /// <summary>One decode of every live sequence, then one sampled token per sequence and one step per request.</summary>
    private void Step()
    {
        var batch = new List<ScheduledSequence>(_placesTaken);
        foreach (var request in _running)
            batch.AddRange(request.Sequences.Where(s => s.Finish == FinishReason.None));
        var vocab = _model.Config.VocabSize;
        EnsureLogitRows(batch.Count);
        var inputs = batch.Select(s => s.LastToken).ToArray();
        var caches = batch.Select(s => s.Cache).ToArray();

        var started = Stopwatch.GetTimestamp();
        _watchdog.Enter(GenerationPhase.Decode);
        try
        {
            _model.Decode(inputs, caches, _logits.AsSpan(0, batch.Count * vocab));
        }
        catch (Exception error)
        {
            // The model's state for this batch is unknown: every request in it fails, the queue carries on.
            LogDecodeFailed(error, batch.Count);
            foreach (var request in _running)
            {
                _placesTaken -= request.Sequences.Count(s => s.Finish == FinishReason.None);
                request.Fail(error);
            }
            _running.Clear();
            return;
        }

        _watchdog.Enter(GenerationPhase.Sample);
        var sampled = SampleRows(batch);
        // Rows follow the batch: requests in running order, each one's live sequences in order.
        var row = 0;
        for (var i = 0; i < _running.Count; i++)
        {
            var request = _running[i];
            var live = request.Sequences.Where(s => s.Finish == FinishReason.None).ToArray();
            var first = row;
            row += live.Length;
            if (sampled.Errors.Skip(first).Take(live.Length).FirstOrDefault(e => e is not null) is { } error)
            {
                LogRequestFailed(error, request.Request.Id);
                _placesTaken -= live.Length;
                request.Fail(error);
                _running.RemoveAt(i--);
                continue;
            }

            var tokens = new SequenceToken[live.Length];
            for (var j = 0; j < live.Length; j++)
                tokens[j] = live[j].Append(sampled.Tokens[first + j], request.Request, _model.Config.ContextLength);
            request.Emit(new GenerationStep(tokens));
            _placesTaken -= tokens.Count(t => t.Finish != FinishReason.None);
            if (request.Sequences.All(s => s.Finish != FinishReason.None))
            {
                _running.RemoveAt(i--);
                Finish(request);
            }
        }

        _metrics.Stepped(batch.Count, Stopwatch.GetElapsedTime(started));
        _metrics.Generated(batch.Count);
        _progressTokens += batch.Count;
    }

    private void EnsureLogitRows(int rows)
    {
        if (_logits.Length < rows * _model.Config.VocabSize)
            _logits = new float[rows * _model.Config.VocabSize];
    }

    /// <summary>Samples sequence k from logits row k, all rows in parallel: each sampler owns its random stream, so the tokens do not depend on the order the threads run in.</summary>
    private (SampledToken[] Tokens, Exception?[] Errors) SampleRows(IReadOnlyList<ScheduledSequence> sequences)
    {
        var vocab = _model.Config.VocabSize;
        var tokens = new SampledToken[sequences.Count];
        var errors = new Exception?[sequences.Count];
        KernelThreads.For(sequences.Count, k =>
        {
            try
            {
                tokens[k] = sequences[k].Sampler.Next(_logits.AsSpan(k * vocab, vocab), sequences[k].Context);
            }
            catch (Exception error)
            {
                errors[k] = error;
            }
        });
        return (tokens, errors);
    }

    private void Finish(ScheduledRequest request)
    {
        var seconds = request.Age.TotalSeconds;
        LogFinished(request.Request.Id, request.Sequences.Count, request.GeneratedTokens, seconds, request.GeneratedTokens / seconds);
        Statistics.Generated(request.SinceAdmitted);
        request.Complete();
    }

    private void LogProgressEvery(TimeSpan interval)
    {
        var elapsed = Stopwatch.GetElapsedTime(_progressStart);
        if (elapsed < interval)
            return;
        LogProgress(_placesTaken, QueueLength(), _progressTokens / elapsed.TotalSeconds);
        _progressStart = Stopwatch.GetTimestamp();
        _progressTokens = 0;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generation queue full ({MaxQueuedRequests} waiting): request {RequestId} refused")]
    private partial void LogQueueFull(string requestId, int maxQueuedRequests);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} refused: its KV cache of {RequiredBytes} bytes exceeds the whole budget of {BudgetBytes} bytes")]
    private partial void LogNeverFits(string requestId, long requiredBytes, long budgetBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "KV cache budget {BudgetBytes} bytes ({CacheType}, {BytesPerPosition} bytes per position of a sequence)")]
    private partial void LogBudget(long budgetBytes, KvCacheType cacheType, long bytesPerPosition);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} admitted: prompt of {PromptTokens} tokens prefilled in {PrefillMs:F1} ms for {Sequences} sequences after {WaitedMs:F1} ms")]
    private partial void LogAdmitted(string requestId, int promptTokens, int sequences, double prefillMs, double waitedMs);

    // Debug: a line per request cost 2% of the throughput at 32 clients on 2 cores (docs/grpc.md); the request's span
    // carries the same figures, and the progress line below shows the load.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} finished: {Sequences} sequences, {Tokens} tokens in {Seconds:F2} s ({TokensPerSecond:F1} tokens/s)")]
    private partial void LogFinished(string requestId, int sequences, int tokens, double seconds, double tokensPerSecond);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} cancelled after {Tokens} tokens")]
    private partial void LogCancelled(string requestId, int tokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Generating: {Sequences} places taken, {Queued} queued, {TokensPerSecond:F1} tokens/s")]
    private partial void LogProgress(int sequences, int queued, double tokensPerSecond);

    [LoggerMessage(Level = LogLevel.Error, Message = "Request {RequestId} failed")]
    private partial void LogRequestFailed(Exception error, string requestId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Decode step over {Sequences} sequences failed; their requests fail")]
    private partial void LogDecodeFailed(Exception error, int sequences);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Generation loop stopped by an unexpected error")]
    private partial void LogLoopFailed(Exception error);
}
