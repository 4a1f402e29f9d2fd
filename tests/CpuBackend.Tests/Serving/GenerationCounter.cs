using System.Diagnostics.Metrics;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Steps and tokens of one backend host's scheduler, from its meters.</summary>
internal sealed class GenerationCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(long Tokens, TaskCompletionSource Reached)> _waiters = [];
    private readonly ManualResetEventSlim _release = new();
    private long _steps;
    private long _tokens;

    public GenerationCounter(BackendHost backend)
    {
        var scope = backend.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GenerationTelemetry.Name && ReferenceEquals(instrument.Meter.Scope, scope)
                && instrument.Name is "gptj.generation.tokens" or "gptj.generation.batch.size")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Add(ref _tokens, value));
        _listener.SetMeasurementEventCallback<int>((_, _, _, _) => Add(ref _steps, 1));
        _listener.Start();
    }

    public (long Steps, long Tokens) Now
    {
        get
        {
            lock (_waiters)
            {
                return (_steps, _tokens);
            }
        }
    }

    /// <summary>Completes once the loop has generated <paramref name="tokens"/> tokens, and holds the loop there (its
    /// meter callbacks run on the loop's thread) until <see cref="Release"/>.</summary>
    public Task HoldAfter(long tokens)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((tokens, reached));
        }
        return reached.Task.WaitAsync(TimeSpan.FromMinutes(2));
    }

    public void Release() => _release.Set();

    private void Add(ref long counter, long value)
    {
        var hold = false;
        lock (_waiters)
        {
            counter += value;
            foreach (var waiter in _waiters.Where(w => _tokens >= w.Tokens).ToList())
            {
                waiter.Reached.TrySetResult();
                _waiters.Remove(waiter);
                hold = true;
            }
        }
        if (hold)
        {
            _release.Wait(TimeSpan.FromMinutes(2)); // a safety net for a broken test, never reached when it works
        }
    }

    public void Dispose()
    {
        _release.Set();
        _listener.Dispose();
        _release.Dispose();
    }
}
