using System.Globalization;
using GptjAspire.Gateway.Errors;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Admission;

/// <summary>Admits a request only when the work admitted before it, its own included, is expected to drain within
/// <see cref="AdmissionOptions.MaxQueueWait"/> (at the measured <see cref="Admission.DrainRate"/>, stretched by the
/// <see cref="PredictionMargin"/>); refuses the rest at once with 429 and a Retry-After computed from the same estimate
/// (TGI's admission step). Admitted requests take slots, one per backend request they make at once, from a fixed number
/// (<see cref="AdmissionOptions.MaxConcurrentRequests"/>), in arrival order.</summary>
/// <remarks>An idle Gateway admits any request, however large: it would otherwise be refused forever, and the rate it
/// drains at could never be measured. A request still waiting for a slot when the bound expires is refused then.</remarks>
public sealed class AdmissionQueue
{
    readonly AdmissionOptions _options;
    readonly TimeProvider _time;
    readonly DrainRate _rate;
    readonly PredictionMargin _margin = new();
    readonly Lock _lock = new();
    readonly LinkedList<Waiter> _waiting = new();
    int _running;
    long _outstanding;

    public AdmissionQueue(IOptions<AdmissionOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _rate = new DrainRate(_options.InitialDrainRate, _options.DrainRateWindow, time);
    }

    /// <summary>Slots held: backend requests in flight (or about to be) for the admitted requests.</summary>
    public int Running { get { lock (_lock) return _running; } }

    /// <summary>Admitted requests waiting for a slot.</summary>
    public int Waiting { get { lock (_lock) return _waiting.Count; } }

    /// <summary>Work units admitted and not yet finished, running and waiting.</summary>
    public long OutstandingWork { get { lock (_lock) return _outstanding; } }

    /// <summary>The current estimate of work units drained per second.</summary>
    public double DrainRate { get { lock (_lock) return _rate.UnitsPerSecond; } }

    /// <summary>The factor by which predicted times are stretched, learned from how long admitted requests took.</summary>
    public double Margin { get { lock (_lock) return _margin.Factor; } }

    /// <summary>Admits a request that makes one backend request; see <see cref="EnterAsync(long, int, CancellationToken)"/>.</summary>
    public ValueTask<Admission> EnterAsync(long work, CancellationToken cancellationToken) => EnterAsync(work, 1, cancellationToken);

    /// <summary>Admits <paramref name="work"/> units (<see cref="RequestWork"/>) and waits for its slots, or throws the 429.
    /// Call <see cref="Admission.Completed"/> when the generation succeeded, and dispose the result to free the slots.</summary>
    /// <param name="backendRequests">The backend requests the request makes at once (one per prompt), each of which the
    /// backend queues: one slot each, so that the Gateway never has more in flight than the slots, and a burst waits here
    /// instead of overflowing the backend's queue. A request that makes more than there are slots takes all of them.</param>
    public async ValueTask<Admission> EnterAsync(long work, int backendRequests, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(work, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(backendRequests, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var slots = Math.Min(backendRequests, _options.MaxConcurrentRequests);
        var waiter = new Waiter(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), slots);
        LinkedListNode<Waiter> place;
        Ticket ticket;
        lock (_lock)
        {
            var predicted = PredictedSeconds(work);
            ticket = new Ticket(work, slots, _time.GetTimestamp(), predicted);
            var expected = predicted * _margin.Factor;
            if (_outstanding > 0 && expected > _options.MaxQueueWait.TotalSeconds)
                throw Refusal(expected, string.Create(CultureInfo.InvariantCulture,
                    $"The server is busy: this request would take about {expected:F1} s behind the work already admitted, more than the {_options.MaxQueueWait.TotalSeconds:F0} s allowed."));
            if (_running + slots <= _options.MaxConcurrentRequests && _waiting.Count == 0)
            {
                Admit(work);
                _running += slots;
                return new Admission(this, ticket);
            }
            if (_waiting.Count >= _options.MaxQueuedRequests)
                throw Refusal(expected, $"The server is busy: {_options.MaxQueuedRequests} requests already wait for a generation slot.");
            Admit(work);
            place = _waiting.AddLast(waiter);
        }

        try
        {
            await waiter.Granted.Task.WaitAsync(_options.MaxQueueWait, _time, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (_lock)
            {
                // Handed a slot between the timer firing and this lock: the request goes ahead, unless its caller left.
                var granted = place.List is null;
                if (!granted)
                {
                    _waiting.Remove(place);
                    Withdraw(work);
                    // It may have been the first in line, holding back smaller requests behind it that fit now.
                    GrantWaiting();
                }
                else if (e is OperationCanceledException)
                {
                    ReleaseHeld(ticket, drained: false, partlyDrained: 0);
                }

                if (e is OperationCanceledException)
                    throw;
                if (!granted)
                    throw Refusal(PredictedSeconds(work) * _margin.Factor, string.Create(CultureInfo.InvariantCulture,
                        $"The server is busy: this request waited {_options.MaxQueueWait.TotalSeconds:F0} s for a generation slot."));
            }
        }
        return new Admission(this, ticket);
    }

    // When the admitted work and this request's would have drained at the measured rate, before the margin.
    double PredictedSeconds(long work) => (_outstanding + work) / _rate.UnitsPerSecond;

    // Retry when enough has drained for this request to fit under the bound again; never later than the bound itself,
    // by which time everything admitted now was expected to be done; never sooner than 1 s, Retry-After's unit.
    ApiException Refusal(double expectedSeconds, string message)
    {
        var bound = _options.MaxQueueWait.TotalSeconds;
        var retry = Math.Max(Math.Min(expectedSeconds - bound, bound), 1);
        return new ApiException(ApiErrorKind.Overloaded, message) { RetryAfter = TimeSpan.FromSeconds(retry) };
    }

    void Admit(long work)
    {
        if (_outstanding == 0)
            _rate.SetBusy(true);
        _outstanding += work;
    }

    void Withdraw(long work)
    {
        _outstanding -= work;
        if (_outstanding == 0)
            _rate.SetBusy(false);
    }

    void Release(Ticket ticket, bool drained, long partlyDrained)
    {
        lock (_lock)
            ReleaseHeld(ticket, drained, partlyDrained);
    }

    // Under the lock.
    void ReleaseHeld(Ticket ticket, bool drained, long partlyDrained)
    {
        if (drained)
        {
            _rate.Drained(ticket.Work);
            // Only predictions made under load teach the margin: a request admitted into a quiet Gateway takes its own
            // generation time, which no drain rate predicts, and it was never close to the bound.
            if (ticket.PredictedSeconds >= _options.MaxQueueWait.TotalSeconds / 4 && double.IsFinite(ticket.PredictedSeconds))
                _margin.Observe(ticket.PredictedSeconds, _time.GetElapsedTime(ticket.AdmittedAt).TotalSeconds);
        }
        else if (partlyDrained > 0)
        {
            // Not a lesson for the margin: the generation ended before its predicted end could be checked.
            _rate.Drained(Math.Min(partlyDrained, ticket.Work));
        }
        Withdraw(ticket.Work);
        _running -= ticket.Slots;
        GrantWaiting();
    }

    // Under the lock. Freed slots pass straight to the waiters in arrival order, so no newcomer overtakes them; the first in
    // line waits until its slots are all free, and those behind it wait with it.
    void GrantWaiting()
    {
        while (_waiting.First is { } next && _running + next.Value.Slots <= _options.MaxConcurrentRequests)
        {
            _waiting.RemoveFirst();
            _running += next.Value.Slots;
            next.Value.Granted.TrySetResult();
        }
    }

    /// <summary>An admitted request waiting for its slots.</summary>
    readonly record struct Waiter(TaskCompletionSource Granted, int Slots);

    /// <summary>What the queue remembers of an admitted request: its work, its slots, when it was admitted and when it was predicted to finish.</summary>
    internal readonly record struct Ticket(long Work, int Slots, long AdmittedAt, double PredictedSeconds);

    /// <summary>One admitted request's slots and work; disposing it frees both.</summary>
    public sealed class Admission : IDisposable
    {
        readonly AdmissionQueue _queue;
        readonly Ticket _ticket;
        bool _drained;
        long _partlyDrained;
        int _released;

        internal Admission(AdmissionQueue queue, Ticket ticket)
        {
            _queue = queue;
            _ticket = ticket;
        }

        /// <summary>Marks the generation as finished, so that its work counts towards the measured drain rate (a failed
        /// or cancelled one counts only what <see cref="PartlyCompleted"/> says it did: counting work that failed fast would
        /// overstate the rate).</summary>
        public void Completed() => _drained = true;

        /// <summary>The work a generation that ended early (its client gone, a failure) is known to have had done, in the
        /// same units as its admission's: counted towards the drain rate instead of nothing, so that streams their clients
        /// stop midway do not make the backend look slower than it is. At most the admitted work.</summary>
        public void PartlyCompleted(long units) => Interlocked.Exchange(ref _partlyDrained, units);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                _queue.Release(_ticket, _drained, Interlocked.Read(ref _partlyDrained));
        }
    }
}
