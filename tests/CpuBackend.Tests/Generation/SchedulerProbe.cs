using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>A scheduler under test plus a listener on its own metrics: records batch sizes and prefill chunks, and can hold the loop after a step or a chunk.</summary>
/// <remarks>Measurement callbacks run synchronously on the loop thread, so holding one freezes the loop at a known
/// point between steps; this makes "arrives mid-generation" and "cancelled between steps" deterministic without timing.</remarks>
public sealed class SchedulerProbe : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly MeterListener _listener = new();
    private readonly ManualResetEventSlim _paused = new();
    private readonly ManualResetEventSlim _resume = new();
    private Func<int, bool>? _pauseWhen;
    private Func<long, bool>? _pauseAfterChunk;

    public SchedulerProbe(TinyModel model, int maxQueuedRequests = 8, int maxBatchSequences = 8, Action<GenerationOptions>? configure = null, TimeProvider? time = null)
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = Meters = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name != "gptj.generation.batch.size")
                return;
            BatchSizes.Enqueue(value);
            Events.Enqueue($"decode {value}");
            HoldIf(ref _pauseWhen, value);
        });
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name != "gptj.generation.prompt.tokens")
                return;
            Prefills.Enqueue(value);
            Events.Enqueue($"prefill {value}");
            HoldIf(ref _pauseAfterChunk, value);
        });
        _listener.Start();
        var options = new GenerationOptions { MaxQueuedRequests = maxQueuedRequests, MaxBatchSequences = maxBatchSequences };
        configure?.Invoke(options);
        Scheduler = new GenerationScheduler(model.Model, Options.Create(options), factory, Log, time);
    }

    public GenerationScheduler Scheduler { get; }

    /// <summary>The factory of the scheduler's meter: listen to its scope to see only this scheduler's metrics.</summary>
    public IMeterFactory Meters { get; }

    /// <summary>What the scheduler logged.</summary>
    public RecordingLogger<GenerationScheduler> Log { get; } = new();

    /// <summary>"prefill n" per prompt chunk and "decode n" per decode step, in the loop's order.</summary>
    public ConcurrentQueue<string> Events { get; } = new();

    /// <summary>Sequences in each decode step, in order.</summary>
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    /// <summary>Prompt tokens of each prefill chunk, in order.</summary>
    public ConcurrentQueue<long> Prefills { get; } = new();

    /// <summary>Holds the loop after the first step whose batch size satisfies <paramref name="when"/>.</summary>
    public void PauseAfterStep(Func<int, bool> when) => _pauseWhen = when;

    /// <summary>Holds the loop inside the prefill phase, after the first chunk whose size satisfies <paramref name="when"/>.</summary>
    public void PauseAfterChunk(Func<long, bool> when) => _pauseAfterChunk = when;

    public async Task WaitUntilPausedAsync() =>
        Assert.True(await Task.Run(() => _paused.Wait(TimeSpan.FromMinutes(2))), "the loop never reached the step to pause at");

    /// <summary>Lets a held loop go on; a pause set before this call can hold it again.</summary>
    public void Resume()
    {
        _paused.Reset();
        _resume.Set();
    }

    /// <summary>Holds the loop (once) when <paramref name="when"/> is set and accepts <paramref name="value"/>.</summary>
    private void HoldIf<T>(ref Func<T, bool>? when, T value)
    {
        var pause = when;
        if (pause is null || !pause(value))
            return;
        when = null;
        _paused.Set();
        _resume.Wait(TimeSpan.FromMinutes(2)); // a safety net for a broken test, never reached when it works
        _resume.Reset();
    }

    public void Dispose()
    {
        _resume.Set();
        Scheduler.Dispose();
        _listener.Dispose();
        _services.Dispose();
    }
}
