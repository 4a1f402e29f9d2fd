namespace GptjAspire.Gateway.Admission;

/// <summary>How fast admitted work drains, in work units per second of busy time: an exponentially weighted ratio of
/// the work that finished to the time during which work was outstanding. Not thread-safe; <see cref="AdmissionQueue"/>
/// calls it under its lock.</summary>
/// <remarks>Both sums decay by e^(-Δt/window) as busy time passes, so the estimate follows a backend that speeds up or
/// slows down within about one window. Idle time neither counts nor decays: a backend with nothing to do is not slow.
/// Completions are bursty (a batch of long requests finishes together), and a ratio of decayed sums absorbs a burst
/// smoothly where an average of per-request rates would swing. Until the first request finishes the estimate is the
/// seed: the busy time before it is no evidence of slowness, only of requests longer than the time so far (counted all
/// the same, it would have a cold Gateway refuse nearly everything behind its first long requests). After that, a long
/// stretch without any completion drives the estimate towards zero, which a backend that stopped draining deserves.</remarks>
public sealed class DrainRate
{
    // The seed weighs as a tenth of a window of measurement: enough to start from, gone after the first few requests.
    const double SeedWeight = 0.1;

    readonly double _windowSeconds;
    readonly TimeProvider _time;
    readonly double _seed;
    bool _measured;
    double _work;
    double _busySeconds;
    long _since;
    bool _busy;

    public DrainRate(double initialUnitsPerSecond, TimeSpan window, TimeProvider time)
    {
        _windowSeconds = window.TotalSeconds;
        _time = time;
        _seed = initialUnitsPerSecond;
        _busySeconds = SeedWeight * _windowSeconds;
        _work = initialUnitsPerSecond * _busySeconds;
        _since = time.GetTimestamp();
    }

    /// <summary>Work units drained per busy second, as measured up to now.</summary>
    public double UnitsPerSecond
    {
        get
        {
            Advance();
            return _measured ? _work / _busySeconds : _seed;
        }
    }

    /// <summary>Says whether work is outstanding from now on; time counts only while it is.</summary>
    public void SetBusy(bool busy)
    {
        Advance();
        _busy = busy;
    }

    /// <summary>Counts the work of a request that finished now.</summary>
    public void Drained(long units)
    {
        Advance();
        _work += units;
        _measured = true;
    }

    void Advance()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_since, now).TotalSeconds;
        _since = now;
        if (!_busy || elapsed <= 0)
            return;
        // ∫ e^(-s/window) ds over the elapsed time, so that steady draining at r gives work → r·window, time → window.
        var decay = Math.Exp(-elapsed / _windowSeconds);
        _work *= decay;
        _busySeconds = _busySeconds * decay + _windowSeconds * (1 - decay);
    }
}
