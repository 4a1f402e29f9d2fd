using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

public sealed class ModelStatisticsRecorderTests
{
    [Fact]
    public async Task Eight_threads_recording_at_once_lose_no_count_and_no_nanosecond()
    {
        var recorder = new ModelStatisticsRecorder(TimeProvider.System);
        const int Threads = 8, PerThread = 20_000;
        using var start = new Barrier(Threads);

        // Alternating kinds and durations, so every total is written by every thread while the others write it too.
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(thread => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                var duration = TimeSpan.FromTicks(1 + (i + thread) % 3);
                if (i % 2 == 0)
                    recorder.Succeeded(duration, rows: 1 + i % 4);
                else
                    recorder.Failed(duration);
                recorder.Queued(duration);
            }
        }, TaskCreationOptions.LongRunning))).WaitAsync(TimeSpan.FromMinutes(1));

        var stats = recorder.Snapshot("gptj", "1");
        var successes = (ulong)Threads * PerThread / 2;
        Assert.Equal(successes, stats.InferenceStats.Success.Count);
        Assert.Equal(successes, stats.ExecutionCount);
        Assert.Equal(successes, stats.InferenceStats.Fail.Count);
        Assert.Equal((ulong)Threads * PerThread, stats.InferenceStats.Queue.Count);
        // rows 1 + i % 4 over even i: 1, 3, 1, 3, ...; durations 1-3 ticks of 100 ns.
        Assert.Equal(successes * 2, stats.InferenceCount);
        var expectedTicks = Enumerable.Range(0, Threads).Sum(t => Enumerable.Range(0, PerThread).Sum(i => (long)(1 + (i + t) % 3)));
        Assert.Equal((ulong)expectedTicks * 100, stats.InferenceStats.Queue.Ns);
        Assert.Equal((ulong)expectedTicks * 100, stats.InferenceStats.Success.Ns + stats.InferenceStats.Fail.Ns);
    }
}
