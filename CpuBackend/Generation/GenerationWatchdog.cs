using Microsoft.Extensions.Logging;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Receives the generation loop's heartbeats and tells whether it is wedged: work pending and no step finished within the stall timeout.</summary>
/// <remarks>The loop beats at every phase it enters and at the end of every step; the watchdog only reads. A timer
/// checks four times per timeout so a stall is logged (once, as an error, with its step and phase) even when no
/// probe asks; the liveness health check asks <see cref="Current"/>.</remarks>
internal sealed partial class GenerationWatchdog : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly Func<TimeSpan?> _oldestWaiting;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly Lock _reportGate = new();
    private volatile Heartbeat _last;
    private volatile bool _loopFailed;
    private Heartbeat? _reported; // guarded by _reportGate: the heartbeat whose stall was logged

    /// <param name="oldestWaiting">Age of the oldest queued request, or null when the queue is empty: while the loop is idle it is the only sign of work.</param>
    public GenerationWatchdog(TimeSpan timeout, TimeProvider time, Func<TimeSpan?> oldestWaiting, ILogger logger)
    {
        _timeout = timeout;
        _time = time;
        _oldestWaiting = oldestWaiting;
        _logger = logger;
        _last = new Heartbeat(0, GenerationPhase.Idle, time.GetTimestamp());
        // Four checks per timeout, within bounds a timer accepts (a timeout of days still checks hourly).
        var period = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerHour));
        _timer = time.CreateTimer(_ => _ = Current, null, period, period);
    }

    /// <summary>Steps finished so far.</summary>
    public long Steps => _last.Step;

    /// <summary>Loop thread: it entered <paramref name="phase"/> of the step after <see cref="Steps"/>.</summary>
    public void Enter(GenerationPhase phase) => _last = new Heartbeat(_last.Step, phase, _time.GetTimestamp());

    /// <summary>Loop thread: a step finished.</summary>
    public void StepFinished() => _last = new Heartbeat(_last.Step + 1, _last.Phase, _time.GetTimestamp());

    /// <summary>Loop thread: the loop stopped on an unexpected error; nothing will be generated again.</summary>
    public void LoopFailed()
    {
        _loopFailed = true;
        _ = Current;
    }

    /// <summary>The stall now, or null when the loop is making progress or has nothing to do; logs a new stall once.</summary>
    public GenerationStall? Current
    {
        get
        {
            var last = _last;
            var stall = Inspect(last);
            lock (_reportGate)
            {
                if (stall is null && _reported is { } resumed && !ReferenceEquals(resumed, last))
                {
                    LogResumed(resumed.Step + 1, resumed.Phase);
                    _reported = null;
                }
                else if (stall is not null && !ReferenceEquals(_reported, last))
                {
                    if (stall.LoopFailed) LogLoopDead(stall.Step, stall.Phase);
                    else LogStalled(stall.Step, stall.Phase, stall.Duration.TotalSeconds, _timeout.TotalSeconds);
                    _reported = last;
                }
            }
            return stall;
        }
    }

    private GenerationStall? Inspect(Heartbeat last)
    {
        var step = last.Step + 1;
        if (_loopFailed)
            return new GenerationStall(step, last.Phase, _time.GetElapsedTime(last.Timestamp), LoopFailed: true);
        // Idle with a queued request: the loop should have woken at once, so the request's wait is the stall.
        var silent = last.Phase == GenerationPhase.Idle ? _oldestWaiting() : _time.GetElapsedTime(last.Timestamp);
        return silent > _timeout ? new GenerationStall(step, last.Phase, silent.Value, LoopFailed: false) : null;
    }

    public void Dispose() => _timer.Dispose();

    private sealed record Heartbeat(long Step, GenerationPhase Phase, long Timestamp);

    [LoggerMessage(Level = LogLevel.Error, Message = "Generation loop wedged: no progress for {Seconds:F0} s (limit {TimeoutSeconds:F0} s) in step {Step}, phase {Phase}; liveness now fails")]
    private partial void LogStalled(long step, GenerationPhase phase, double seconds, double timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Generation loop is dead (stopped in step {Step}, phase {Phase}); liveness now fails")]
    private partial void LogLoopDead(long step, GenerationPhase phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generation loop resumed after stalling in step {Step}, phase {Phase}")]
    private partial void LogResumed(long step, GenerationPhase phase);
}
