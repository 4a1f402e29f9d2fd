using System.Collections.Concurrent;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;
using static GptjAspire.CpuBackend.Tests.Generation.GenerationRequests;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>Admission by KV-cache bytes: a request reserves its prompt once plus max new tokens for each of its sequences when it joins.</summary>
public class SchedulerBudgetTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private long PerPosition => KvCache.BytesPerPosition(tiny.Model.Config, KvCacheType.F32);

    [Fact]
    public async Task A_request_that_does_not_fit_the_budget_waits_until_the_running_one_releases_it()
    {
        var budget = (8 + 2 * 8) * PerPosition; // an 8-token prompt and two sequences of 8 new tokens
        using var probe = new SchedulerProbe(tiny, configure: o => o.KvCacheBudgetBytes = budget);
        var prompt = TinyModel.Prompt(8, salt: 40);
        probe.PauseAfterStep(_ => true);

        var a = Collect(probe.Scheduler.Generate(Request(prompt, 8, Greedy, numSequences: 2), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // A holds the whole budget
        var b = Collect(probe.Scheduler.Generate(Request(prompt, 8, Greedy), CancellationToken.None)); // batch places are free, bytes are not
        var reservedWhileBWaits = probe.Scheduler.Budget.ReservedBytes;
        probe.Resume();
        await a;
        var stepsB = await b;

        Assert.Equal(budget, reservedWhileBWaits);
        Assert.DoesNotContain(3, probe.BatchSizes); // B never decoded beside A's two sequences
        Assert.Equal(tiny.GreedyReference(prompt, 8), Tokens(stepsB, 0));
        Assert.Equal(budget, probe.Scheduler.Budget.PeakBytes);
        Assert.Equal(0, probe.Scheduler.Budget.ReservedBytes);
    }

    [Fact]
    public void Freed_cache_blocks_kept_for_reuse_stay_within_half_the_headroom_beside_the_budget()
    {
        var budget = 900 * PerPosition;

        using var probe = new SchedulerProbe(tiny, configure: o => o.KvCacheBudgetBytes = budget);

        Assert.Equal(50 * PerPosition, tiny.Model.KvMemoryPool.Limit);
    }

    [Fact]
    public async Task A_request_larger_than_the_whole_budget_is_refused_at_once_counting_the_new_tokens_of_each_of_its_sequences()
    {
        var budget = (8 + 2 * 8) * PerPosition;
        using var probe = new SchedulerProbe(tiny, configure: o => o.KvCacheBudgetBytes = budget);
        var prompt = TinyModel.Prompt(8, salt: 41);

        var refused = Assert.Throws<KvCacheBudgetExceededException>(() => probe.Scheduler.Generate(Request(prompt, 8, Greedy, numSequences: 3), CancellationToken.None));
        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 8, Greedy, numSequences: 2), CancellationToken.None));

        Assert.Equal((8 + 3 * 8) * PerPosition, refused.RequiredBytes);
        Assert.Equal(budget, refused.BudgetBytes);
        Assert.Contains("8 prompt positions + 3 sequences x 8 new positions", refused.Message);
        Assert.Equal(tiny.GreedyReference(prompt, 8), Tokens(steps, 1));
        Assert.Empty(probe.Prefills.Skip(1));
    }

    [Fact]
    public async Task The_samples_of_a_long_prompt_reserve_the_prompt_once_and_all_run_beside_each_other()
    {
        // Four samples of a 24-token prompt each holding the prompt would need 4 x 28 positions; they share it (KvCache.Fork).
        var budget = (24 + 4 * 4) * PerPosition;
        using var probe = new SchedulerProbe(tiny, configure: o => o.KvCacheBudgetBytes = budget);
        var prompt = TinyModel.Prompt(24, salt: 43);

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 4, Greedy, numSequences: 4), CancellationToken.None));

        Assert.All(Enumerable.Range(0, 4), s => Assert.Equal(tiny.GreedyReference(prompt, 4), Tokens(steps, s)));
        Assert.Contains(4, probe.BatchSizes);
        Assert.Equal(budget, probe.Scheduler.Budget.PeakBytes);
        Assert.Equal(0, probe.Scheduler.Budget.ReservedBytes);
    }

    [Fact]
    public async Task Max_new_tokens_beyond_the_context_window_reserves_only_the_window()
    {
        using var probe = new SchedulerProbe(tiny, configure: o => o.KvCacheBudgetBytes = tiny.ContextLength * PerPosition);
        var prompt = TinyModel.Prompt(tiny.ContextLength - 4, salt: 42);

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, int.MaxValue, Greedy), CancellationToken.None));

        Assert.Equal(FinishReason.ContextLimit, steps[^1].Tokens[0].Finish);
        Assert.Equal(tiny.ContextLength * PerPosition, probe.Scheduler.Budget.PeakBytes);
    }

    [Fact]
    public async Task Many_threads_with_alternating_shapes_are_each_answered_or_refused_once_and_the_budget_returns_to_zero()
    {
        var budget = 60 * PerPosition; // a prompt and a few sequences of new tokens: most requests wait for bytes, six never fit
        using var probe = new SchedulerProbe(tiny, maxQueuedRequests: 12, maxBatchSequences: 4,
            configure: o => { o.KvCacheBudgetBytes = budget; o.PrefillChunkTokens = 5; });
        var outcomes = new ConcurrentDictionary<string, string>();
        var submitted = 0;

        async Task<string> RunOne(int thread, int i)
        {
            var shape = (thread + i) % 5;
            var prompt = TinyModel.Prompt(3 + (thread * 7 + i * 5) % 28, salt: thread * 100 + i);
            var maxNew = 1 + (i * 3 + thread) % 12;
            var sequences = shape == 4 ? 4 : 1 + shape % 3; // shape 4: prompt + 4 x new may exceed the budget
            var request = Request(prompt, maxNew, shape == 2 ? new SamplingParameters(TopK: 5, Seed: (ulong)i) : Greedy, sequences);
            using var cancel = new CancellationTokenSource();
            var perSequence = new int[sequences];
            try
            {
                Interlocked.Increment(ref submitted);
                await foreach (var step in probe.Scheduler.Generate(request, cancel.Token).ConfigureAwait(false))
                {
                    foreach (var token in step.Tokens)
                        perSequence[token.Sequence]++;
                    if (shape == 3 && perSequence[0] == 2)
                        await cancel.CancelAsync(); // a client that leaves after two tokens
                }
                Assert.All(perSequence, count => Assert.InRange(count, 1, maxNew));
                return "answered";
            }
            catch (OperationCanceledException) when (shape == 3)
            {
                return "cancelled";
            }
            catch (QueueFullException)
            {
                return "queue full";
            }
            catch (KvCacheBudgetExceededException) when ((prompt.Length + (long)sequences * maxNew) * PerPosition > budget)
            {
                return "never fits";
            }
        }

        var threads = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 12; i++)
            {
                var id = $"{t}-{i}";
                Assert.True(outcomes.TryAdd(id, await RunOne(t, i).ConfigureAwait(false)), $"request {id} ended twice");
            }
        }));
        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromMinutes(5)); // a safety net against a hang, not a timing

        // One last request passes through the loop after every cancellation above, so their places and bytes are back.
        await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(4, salt: 43), 2, Greedy), CancellationToken.None));

        Assert.Equal(96, outcomes.Count);
        Assert.Equal(96, submitted);
        Assert.Contains("answered", outcomes.Values);
        Assert.Contains("never fits", outcomes.Values);
        Assert.Equal(0, probe.Scheduler.Budget.ReservedBytes);
        Assert.InRange(probe.Scheduler.Budget.PeakBytes, 1, budget);
        Assert.All(probe.BatchSizes, size => Assert.InRange(size, 1, 4));
    }
}
