using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>A request inside the scheduler: its stream of steps, its cancellation, its span and, once admitted, its sequences.</summary>
internal sealed class ScheduledRequest
{
    private readonly Channel<GenerationStep> _steps =
        Channel.CreateUnbounded<GenerationStep>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    // A reader that wants only the whole result gets the steps at the end: each step written while it waits would wake a
    // thread-pool thread for it, once per token per request (19,000 wake-ups a second at 32 clients on 2 cores).
    private readonly List<GenerationStep>? _heldSteps;
    private readonly CancellationToken _callerToken;
    // Cancelled when the consumer stops reading early; no timer and no parent, so it needs no Dispose.
    private readonly CancellationTokenSource _abandoned = new();
    private readonly Lock _registrationGate = new();
    private CancellationTokenRegistration _callerRegistration;
    private CancellationTokenRegistration _abandonRegistration;
    private readonly long _arrival = Stopwatch.GetTimestamp();
    private long _admitted;
    private KvCacheBudget? _reservation; // set while this request holds ReservedBytes of it
    private int _finished;
    private int _generatedTokens;

    /// <param name="stepsAtEnd">Deliver the steps when the request completes rather than as they come.</param>
    public ScheduledRequest(GenerationRequest request, int positions, long reservedBytes, CancellationToken cancellationToken, Activity? activity,
        bool stepsAtEnd)
    {
        _heldSteps = stepsAtEnd ? [] : null;
        Request = request;
        Positions = positions;
        ReservedBytes = reservedBytes;
        Activity = activity;
        Seed = request.Sampling.Seed ?? (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        _callerToken = cancellationToken;
    }

    public GenerationRequest Request { get; }

    /// <summary>Positions each sequence may fill: prompt + max new tokens, at most the context length.</summary>
    public int Positions { get; }

    /// <summary>KV-cache bytes of all its sequences at <see cref="Positions"/>: what it reserves when it joins the batch.</summary>
    public long ReservedBytes { get; }

    /// <summary>The prompt's progress while it is being prefilled; null before and after.</summary>
    public PromptPrefill? Prefill { get; set; }

    public Activity? Activity { get; }

    public ulong Seed { get; }

    public bool IsCancelled => _callerToken.IsCancellationRequested || _abandoned.IsCancellationRequested;

    /// <summary>Its place in the waiting queue; null once admitted or withdrawn.</summary>
    public LinkedListNode<ScheduledRequest>? QueueNode { get; set; }

    public List<ScheduledSequence> Sequences { get; } = [];

    public TimeSpan Age => Stopwatch.GetElapsedTime(_arrival);

    /// <summary>Time since it joined the batch (<see cref="Admit"/>).</summary>
    public TimeSpan SinceAdmitted => Stopwatch.GetElapsedTime(_admitted);

    /// <summary>Marks the moment it leaves the queue for the batch.</summary>
    public void Admit() => _admitted = Stopwatch.GetTimestamp();

    public int GeneratedTokens => _generatedTokens;

    /// <summary>Takes <see cref="ReservedBytes"/> of <paramref name="budget"/> if they fit; they are released exactly once, when the stream ends.</summary>
    public bool TryReserve(KvCacheBudget budget)
    {
        if (!budget.TryReserve(ReservedBytes))
            return false;
        _reservation = budget;
        if (Volatile.Read(ref _finished) != 0)
            ReleaseReservation(); // ended before the reservation was recorded, so TryFinish could not release it
        return true;
    }

    public void Emit(GenerationStep step)
    {
        _generatedTokens += step.Tokens.Count;
        if (_heldSteps is not null)
            _heldSteps.Add(step);
        else
            _steps.Writer.TryWrite(step);
    }

    /// <summary>Ends the stream after its last step.</summary>
    public void Complete()
    {
        if (!TryFinish())
            return;
        var reasons = Sequences.Select(s => s.Finish.ToString()).ToArray();
        Activity?.SetTag("gen_ai.response.finish_reasons", reasons);
        Activity?.SetTag("gen_ai.usage.output_tokens", _generatedTokens);
        Activity?.Dispose();
        foreach (var step in _heldSteps ?? [])
            _steps.Writer.TryWrite(step);
        _steps.Writer.TryComplete();
    }

    /// <summary>Ends the stream with <see cref="OperationCanceledException"/>: the client is gone or its deadline passed.</summary>
    public void Cancel()
    {
        if (!TryFinish())
            return;
        Activity?.SetTag("gen_ai.usage.output_tokens", _generatedTokens);
        Activity?.AddEvent(new ActivityEvent("cancelled"));
        Activity?.Dispose();
        _steps.Writer.TryComplete(new OperationCanceledException("The generation request was cancelled.", _callerToken));
    }

    /// <summary>Ends the stream with <paramref name="error"/>, which the reader receives.</summary>
    public void Fail(Exception error)
    {
        if (!TryFinish())
            return;
        Activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        Activity?.Dispose();
        _steps.Writer.TryComplete(error);
    }

    /// <summary>Calls <paramref name="withdraw"/> when the caller cancels or the reader leaves (at once if already cancelled).</summary>
    public void OnCancelled(Action<ScheduledRequest> withdraw)
    {
        lock (_registrationGate)
        {
            _callerRegistration = _callerToken.Register(() => withdraw(this));
            _abandonRegistration = _abandoned.Token.Register(() => withdraw(this));
            if (Volatile.Read(ref _finished) != 0)
            {
                // Finished before the registrations existed, so TryFinish could not release them.
                _callerRegistration.Dispose();
                _abandonRegistration.Dispose();
            }
        }
    }

    public async IAsyncEnumerable<GenerationStep> ReadSteps([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var completed = false;
        try
        {
            await foreach (var step in _steps.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return step;
            completed = true;
        }
        finally
        {
            if (!completed)
                Abandon();
        }
    }

    /// <summary>The reader left early: the request leaves the batch at the next step.</summary>
    private void Abandon()
    {
        if (Volatile.Read(ref _finished) == 0)
            _abandoned.Cancel();
    }

    /// <summary>Gives the memory of the prompt's cache and of every sample's fork of it back together, now rather than
    /// after a collection (<see cref="KvCache.Release"/>). A request with caches finishes on the scheduler's loop thread
    /// between steps (or after the loop has stopped), and none of its caches is read after that.</summary>
    private void ReleaseCaches()
    {
        foreach (var sequence in Sequences) sequence.Cache.Release();
        Prefill?.Cache.Release();
    }

    private void ReleaseReservation() => Interlocked.Exchange(ref _reservation, null)?.Release(ReservedBytes);

    private bool TryFinish()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
            return false;
        ReleaseReservation();
        ReleaseCaches();
        lock (_registrationGate)
        {
            _callerRegistration.Dispose();
            _abandonRegistration.Dispose();
        }
        return true;
    }
}
