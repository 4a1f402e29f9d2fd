using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>A scheduler under test plus a listener on its own metrics: records batch sizes and prefills, and can hold the loop after a step.</summary>
/// <remarks>Measurement callbacks run synchronously on the loop thread, so holding one freezes the loop at a known
/// point between steps; this makes "arrives mid-generation" and "cancelled between steps" deterministic without timing.</remarks>
public sealed class SchedulerProbe : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly MeterListener _listener = new();
    private readonly ManualResetEventSlim _paused = new();
    private readonly ManualResetEventSlim _resume = new();
    private Func<int, bool>? _pauseWhen;

    public SchedulerProbe(TinyModel model, int maxQueuedRequests = 8, int maxBatchSequences = 8)
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = _services.GetRequiredService<IMeterFactory>();
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
            var pauseWhen = _pauseWhen;
            if (pauseWhen is not null && pauseWhen(value))
            {
                _pauseWhen = null;
                _paused.Set();
                _resume.Wait(TimeSpan.FromMinutes(2)); // a safety net for a broken test, never reached when it works
            }
        });
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "gptj.generation.prompt.tokens")
                Prefills.Enqueue(value);
        });
        _listener.Start();
        Scheduler = new GenerationScheduler(
            model.Model,
            Options.Create(new GenerationOptions { MaxQueuedRequests = maxQueuedRequests, MaxBatchSequences = maxBatchSequences }),
            factory,
            NullLogger<GenerationScheduler>.Instance);
    }

    public GenerationScheduler Scheduler { get; }

    /// <summary>Sequences in each decode step, in order.</summary>
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    /// <summary>Prompt tokens of each prefill, in order.</summary>
    public ConcurrentQueue<long> Prefills { get; } = new();

    /// <summary>Holds the loop after the first step whose batch size satisfies <paramref name="when"/>.</summary>
    public void PauseAfterStep(Func<int, bool> when) => _pauseWhen = when;

    public async Task WaitUntilPausedAsync() =>
        Assert.True(await Task.Run(() => _paused.Wait(TimeSpan.FromMinutes(2))), "the loop never reached the step to pause at");

    public void Resume() => _resume.Set();

    public void Dispose()
    {
        _resume.Set();
        Scheduler.Dispose();
        _listener.Dispose();
        _services.Dispose();
    }
}
