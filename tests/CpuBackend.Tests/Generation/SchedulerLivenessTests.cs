using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.Logging;
using static GptjAspire.CpuBackend.Tests.Generation.GenerationRequests;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>The loop's heartbeat: a step held on purpose past the stall timeout shows as a stall, logged once; an idle loop never does.</summary>
public class SchedulerLivenessTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_prefill_held_past_the_stall_timeout_is_a_stall_logged_once_with_its_step_and_phase()
    {
        var clock = new ManualClock();
        using var probe = new SchedulerProbe(tiny, configure: o => o.StallTimeout = Timeout, time: clock);
        probe.PauseAfterChunk(_ => true);

        var request = Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(9, salt: 30), 4, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // the loop is held inside step 1, after its prefill chunk
        clock.Advance(Timeout);
        Assert.Null(probe.Scheduler.Stall); // at the limit, not past it
        clock.Advance(TimeSpan.FromSeconds(1));
        var stall = probe.Scheduler.Stall;
        var again = probe.Scheduler.Stall;

        Assert.NotNull(stall);
        Assert.Equal(1, stall.Step);
        Assert.Equal(GenerationPhase.Prefill, stall.Phase);
        Assert.False(stall.LoopFailed);
        Assert.Equal(TimeSpan.FromSeconds(31), stall.Duration);
        Assert.NotNull(again);
        var error = Assert.Single(probe.Log.At(LogLevel.Error));
        Assert.Contains("step 1, phase Prefill", error);
        Assert.Contains("step 1 (phase Prefill)", stall.Describe());

        probe.Resume();
        Assert.Equal(tiny.GreedyReference(TinyModel.Prompt(9, salt: 30), 4), Tokens(await request, 0));
        Assert.Null(probe.Scheduler.Stall);
        Assert.Single(probe.Log.At(LogLevel.Error));
        Assert.Contains(probe.Log.At(LogLevel.Warning), m => m.Contains("resumed after stalling in step 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_decode_step_held_past_the_stall_timeout_names_the_step_it_stuck_in()
    {
        var clock = new ManualClock();
        using var probe = new SchedulerProbe(tiny, configure: o => o.StallTimeout = Timeout, time: clock);
        // Held when the third decode step records its batch size: after its decode, inside its sampling phase.
        var decodes = 0;
        probe.PauseAfterStep(_ => ++decodes == 3);

        var request = Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(9, salt: 31), 8, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync();
        clock.Advance(Timeout + TimeSpan.FromSeconds(1));
        var stall = probe.Scheduler.Stall;
        probe.Resume();
        await request;

        Assert.NotNull(stall);
        Assert.Equal(3, stall.Step);
        Assert.Equal(GenerationPhase.Sample, stall.Phase);
    }

    [Fact]
    public async Task An_idle_loop_is_never_stalled_however_long_it_waits()
    {
        var clock = new ManualClock();
        using var probe = new SchedulerProbe(tiny, configure: o => o.StallTimeout = Timeout, time: clock);
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Null(probe.Scheduler.Stall);

        await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(5, salt: 32), 3, Greedy), CancellationToken.None));
        clock.Advance(TimeSpan.FromHours(1));

        Assert.Null(probe.Scheduler.Stall);
        Assert.Empty(probe.Log.At(LogLevel.Error));
    }
}
