using System.Diagnostics;
using System.Diagnostics.Metrics;
using GptjAspire.CpuBackend.Generation;
using GptjAspire.CpuBackend.Tests.DemoModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>
/// A client that goes away (the call's HTTP/2 stream is reset) stops its generation in the backend within one step,
/// for a whole (ModelInfer) and a streamed (ModelStreamInfer) request alike: the steps and tokens counted after the
/// reset are at most the step already under way and the one that observes the cancellation.
/// </summary>
public sealed class DisconnectTests
{
    private const int Samples = 16;
    private const int MaxNewTokens = 480;

    [Fact]
    public Task Whole_request_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-whole", async (backend, request, cancellation) => await backend.Client.InferAsync(request, cancellationToken: cancellation));

    [Fact]
    public Task Streamed_request_disconnected_mid_generation_stops_within_one_step() =>
        DisconnectMidGenerationAsync("disconnect-stream", async (backend, request, cancellation) =>
        {
            await foreach (var _ in backend.Client.StreamInferAsync(request, cancellationToken: cancellation))
            {
            }
        }, streaming: true);

    private static async Task DisconnectMidGenerationAsync(string id, Func<BackendHost, TritonClient.Protocol.ModelInferRequest, CancellationToken, Task> call, bool streaming = false)
    {
        await using var backend = await BackendHost.StartAsync(modelPath: DemoCheckpoint.Directory);
        using var counts = new GenerationCounter(backend);
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GenerationTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("gen_ai.request.id") is string requestId && requestId.StartsWith(id, StringComparison.Ordinal))
                {
                    finished.TrySetResult();
                }
            },
        };
        ActivitySource.AddActivityListener(spans);
        using var disconnect = new CancellationTokenSource();
        var request = Requests.Generate([5, 6, 7], MaxNewTokens, samples: Samples, streaming: streaming, topK: 50, seed: 1, id: id);

        var running = call(backend, request, disconnect.Token);
        await counts.HoldAfter(tokens: 4 * Samples);
        var (stepsAtReset, tokensAtReset) = counts.Now;
        await disconnect.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => running);
        // The loop stays held while the reset crosses loopback to the server (Kestrel's threads, not the loop's), so the
        // steps counted below measure how soon the loop acts on a cancellation, not how busy the machine is.
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        counts.Release();
        // The scheduler ends the request's span when the request leaves it; a bound so a leak fails instead of hanging.
        await finished.Task.WaitAsync(TimeSpan.FromMinutes(2));

        var (steps, tokens) = counts.Now;
        Assert.InRange(steps - stepsAtReset, 0, 2);
        Assert.InRange(tokens - tokensAtReset, 0, 2 * Samples);
        Assert.True(tokens < Samples * MaxNewTokens);
    }

    /// <summary>Steps and tokens of one backend host's scheduler, from its meters.</summary>
    private sealed class GenerationCounter : IDisposable
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
}
