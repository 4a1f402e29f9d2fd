namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>A clock that only moves when the test says so, for the stall timeout (timers still run on real time and only re-read this clock).</summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
