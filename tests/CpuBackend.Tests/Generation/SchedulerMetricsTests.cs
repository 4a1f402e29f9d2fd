using GptjAspire.CpuBackend.Generation;
using GptjAspire.Tests.Shared;
using static GptjAspire.CpuBackend.Tests.Generation.GenerationRequests;

namespace GptjAspire.CpuBackend.Tests.Generation;

public sealed class SchedulerMetricsTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    [Fact]
    public async Task Known_requests_count_their_prompt_and_generated_tokens_and_each_admission_exactly()
    {
        using var probe = new SchedulerProbe(tiny);
        using var metrics = new MeterRecorder(probe.Meters);

        // Prompts of 5, 7 and 9 tokens; 4, 3 and 2 new tokens for 1, 1 and 2 samples; no end id, so every sample runs to its maximum.
        await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(5, salt: 20), 4, Greedy), CancellationToken.None));
        await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(7, salt: 21), 3, Greedy), CancellationToken.None));
        await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(9, salt: 22), 2, Greedy, numSequences: 2), CancellationToken.None));

        Assert.Equal(0, metrics.Observe("gptj.generation.queue.length"));
        Assert.Equal(0, metrics.Observe("gptj.generation.sequences.running"));
        Assert.Equal(0, metrics.Observe("gptj.generation.kv_cache.reserved"));
        // A stream ends before the loop records its last step: stopping the loop makes every count final.
        probe.Scheduler.Dispose();

        Assert.Equal(5 + 7 + 9, metrics.Sum("gptj.generation.prompt.tokens")); // a prompt is prefilled once for all its samples
        Assert.Equal(4 + 3 + 2 * 2, metrics.Sum("gptj.generation.tokens"));
        // The first token of each sample comes from the prefill's logits; every other one from a decode step.
        Assert.Equal(4 + 3 + 2 * 2 - (1 + 1 + 2), metrics.Sum("gptj.generation.batch.size"));
        Assert.Equal(3, metrics.Of("gptj.generation.queue.duration").Count);
        Assert.Equal(3, metrics.Of("gen_ai.server.time_to_first_token").Count);
        Assert.All(metrics.Of("gen_ai.server.time_to_first_token"), m => Assert.Equal("s", m.Unit));
    }

    [Fact]
    public async Task Queue_depth_and_running_batch_follow_requests_held_behind_a_full_batch_and_return_to_zero()
    {
        using var probe = new SchedulerProbe(tiny, maxBatchSequences: 2);
        using var metrics = new MeterRecorder(probe.Meters);
        probe.PauseAfterStep(_ => true);

        var running = Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(6, salt: 23), 8, Greedy, numSequences: 2), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // both samples hold the batch's two places, the loop is held between steps
        var waiting = new[]
        {
            Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(4, salt: 24), 3, Greedy), CancellationToken.None)),
            Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(5, salt: 25), 3, Greedy), CancellationToken.None)),
        };

        Assert.Equal(2, metrics.Observe("gptj.generation.queue.length"));
        Assert.Equal(2, metrics.Observe("gptj.generation.sequences.running"));
        Assert.True(metrics.Observe("gptj.generation.kv_cache.reserved") > 0);

        probe.Resume();
        await running;
        await Task.WhenAll(waiting);

        Assert.Equal(0, metrics.Observe("gptj.generation.queue.length"));
        Assert.Equal(0, metrics.Observe("gptj.generation.sequences.running"));
        Assert.Equal(0, metrics.Observe("gptj.generation.kv_cache.reserved"));
        Assert.True(metrics.Observe("gptj.generation.kv_cache.kept") > 0, "the finished requests' caches were not kept");
        Assert.Equal(3, metrics.Of("gptj.generation.queue.duration").Count);
    }

    [Fact]
    public void A_request_larger_than_the_KV_cache_budget_counts_as_rejected_with_its_reason()
    {
        using var probe = new SchedulerProbe(tiny, configure: options => options.KvCacheBudgetBytes = 1);
        using var metrics = new MeterRecorder(probe.Meters);

        Assert.Throws<KvCacheBudgetExceededException>(() =>
            probe.Scheduler.Generate(Request(TinyModel.Prompt(4, salt: 26), 2, Greedy), CancellationToken.None));

        Assert.Equal(1, metrics.Sum("gptj.generation.rejected", ("reason", "kv_cache_budget")));
        Assert.Equal(0, metrics.Sum("gptj.generation.rejected", ("reason", "queue_full")));
        Assert.Empty(metrics.Of("gptj.generation.queue.duration"));
    }
}
