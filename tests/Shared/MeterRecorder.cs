using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace GptjAspire.Tests.Shared;

/// <summary>Records every measurement of the meters one <see cref="IMeterFactory"/> created (so parallel tests with their own
/// services do not mix), for tests that check what a known sequence of requests did to each instrument.</summary>
public sealed class MeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly SemaphoreSlim _added = new(0);

    public MeterRecorder(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, scope))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Add(i, value, tags));
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Add(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Add(i, value, tags));
        _listener.Start();
    }

    /// <summary>One recorded value with its instrument's name, unit and the measurement's attributes.</summary>
    public sealed record Measurement(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>The measurements of <paramref name="instrument"/> so far whose attributes include every pair in <paramref name="tags"/>.</summary>
    public IReadOnlyList<Measurement> Of(string instrument, params (string Key, object? Value)[] tags) =>
        _measurements.Where(m => m.Instrument == instrument
            && tags.All(t => m.Tags.TryGetValue(t.Key, out var value) && Equals(value, t.Value))).ToList();

    /// <summary>The sum of the matching measurements: a counter's total, or a histogram's sum.</summary>
    public double Sum(string instrument, params (string Key, object? Value)[] tags) => Of(instrument, tags).Sum(m => m.Value);

    /// <summary>The current values of the observable instruments named <paramref name="instrument"/> (one per meter that has one).</summary>
    public double Observe(string instrument)
    {
        var before = _measurements.Count;
        _listener.RecordObservableInstruments();
        return _measurements.Skip(before).Where(m => m.Instrument == instrument).Sum(m => m.Value);
    }

    /// <summary>Waits until <paramref name="instrument"/> has <paramref name="count"/> matching measurements: for what a service
    /// records after its response has reached the client (the minute is a safety net for a broken test, not a speed limit).</summary>
    public async Task WaitForAsync(int count, string instrument, params (string Key, object? Value)[] tags)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (Of(instrument, tags).Count < count)
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && await _added.WaitAsync(left), $"{instrument} never reached {count} measurements");
        }
    }

    /// <summary>Observes <paramref name="instrument"/> until it reads <paramref name="value"/>: for a gauge that follows work
    /// finishing on another thread (the minute is a safety net for a broken test, not a speed limit).</summary>
    public async Task WaitUntilObservedAsync(string instrument, double value)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (Observe(instrument) != value)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{instrument} never read {value}");
            await Task.Delay(10);
        }
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        _measurements.Enqueue(new Measurement(instrument.Name, instrument.Unit, value, new Dictionary<string, object?>(tags.ToArray())));
        _added.Release();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _added.Dispose();
    }
}
