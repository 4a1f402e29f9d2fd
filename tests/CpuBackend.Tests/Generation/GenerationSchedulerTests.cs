using GptjAspire.CpuBackend.Engine;
using System.Collections.Concurrent;
using System.Diagnostics;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.Logging;
using static GptjAspire.CpuBackend.Tests.Generation.GenerationRequests;

namespace GptjAspire.CpuBackend.Tests.Generation;

public class GenerationSchedulerTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    [Fact]
    public async Task Greedy_tokens_equal_a_sequential_prefill_and_decode_loop()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 1);

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 20, Greedy), CancellationToken.None));

        Assert.Equal(tiny.GreedyReference(prompt, 20), Tokens(steps, 0));
        Assert.All(steps, step => Assert.Single(step.Tokens));
        Assert.Equal(FinishReason.Length, steps[^1].Tokens[0].Finish);
        Assert.All(steps.SkipLast(1), step => Assert.Equal(FinishReason.None, step.Tokens[0].Finish));
        Assert.All(steps, step => Assert.True(step.Tokens[0].LogProb is <= 0f and > float.NegativeInfinity));
    }

    [Fact]
    public async Task Samples_of_one_request_share_a_single_prefill()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(11, salt: 2);

        var greedy = await Collect(probe.Scheduler.Generate(Request(prompt, 12, Greedy, numSequences: 4), CancellationToken.None));
        var sampled = await Collect(probe.Scheduler.Generate(Request(prompt, 12, new SamplingParameters(Seed: 3), numSequences: 4), CancellationToken.None));

        Assert.Equal([prompt.Length, prompt.Length], probe.Prefills);
        var reference = tiny.GreedyReference(prompt, 12);
        for (var s = 0; s < 4; s++)
            Assert.Equal(reference, Tokens(greedy, s));
        Assert.All(greedy.Concat(sampled), step => Assert.Equal([0, 1, 2, 3], step.Tokens.Select(t => t.Sequence)));
        Assert.True(Enumerable.Range(1, 3).Any(s => !Tokens(sampled, s).SequenceEqual(Tokens(sampled, 0))), "four samples drew identical tokens");
    }

    [Fact]
    public async Task Same_seed_gives_the_same_tokens_and_another_seed_does_not()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(6, salt: 3);
        async Task<int[][]> Run(ulong seed)
        {
            var steps = await Collect(probe.Scheduler.Generate(
                Request(prompt, 16, new SamplingParameters(TopK: 50, TopP: 0.95f, Temperature: 1.2f, Seed: seed), numSequences: 2),
                CancellationToken.None));
            return [Tokens(steps, 0), Tokens(steps, 1)];
        }

        var first = await Run(41);
        var again = await Run(41);
        var other = await Run(42);

        Assert.Equal(first, again);
        Assert.NotEqual(first[0], other[0]);
        Assert.NotEqual(first[1], other[1]);
    }

    [Fact]
    public async Task A_finished_requests_caches_go_back_to_the_pool_at_once_and_the_next_request_reuses_them_unharmed()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(7, salt: 31);
        const int newTokens = 13; // a shape no other test here runs: 20 positions, 13 of them each fork's own
        var perPosition = KvCache.BytesPerPosition(tiny.Model.Config, KvCacheType.F32);
        var pool = tiny.Model.KvMemoryPool;
        long promptBlock = KvMemory.SizeFor(20 * perPosition), forkBlock = KvMemory.SizeFor(13 * perPosition);
        async Task<int[][]> Run()
        {
            var steps = await Collect(probe.Scheduler.Generate(
                Request(prompt, newTokens, new SamplingParameters(TopK: 50, TopP: 0.95f, Seed: 5), numSequences: 3), CancellationToken.None));
            return [.. Enumerable.Range(0, 3).Select(s => Tokens(steps, s))];
        }

        var first = await Run();
        var (promptKept, forksKept) = (pool.Count(promptBlock), pool.Count(forkBlock));
        var again = await Run();

        Assert.True(promptKept >= 1 && forksKept >= 2, $"kept {promptKept} prompt and {forksKept} fork blocks after the request");
        Assert.Equal(first, again);
        Assert.Equal((promptKept, forksKept), (pool.Count(promptBlock), pool.Count(forkBlock)));
    }

    // The whole-result path (a unary ModelInfer, a non-streaming ModelStreamInfer) holds its steps until the request ends,
    // so the reader wakes once instead of once per token; what it reads is what the stream would have given.
    [Fact]
    public async Task Steps_held_to_the_end_arrive_only_then_and_equal_the_streamed_ones()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 11);
        var sampling = new SamplingParameters(TopK: 5, Temperature: 0.9f, Seed: 7);
        var streamed = await Collect(probe.Scheduler.Generate(Request(prompt, 12, sampling, numSequences: 3), CancellationToken.None));

        // The streamed request's 11 decode steps ran three rows each; the held one's first decode step is the twelfth such
        // step (its first token came from the prompt). The loop records a step's size after handing out its tokens.
        probe.PauseAfterStep(size => size == 3 && probe.BatchSizes.Count(s => s == 3) == 12);
        var held = probe.Scheduler.Generate(Request(prompt, 12, sampling, numSequences: 3), CancellationToken.None, stepsAtEnd: true)
            .GetAsyncEnumerator();
        var first = held.MoveNextAsync();
        await probe.WaitUntilPausedAsync(); // two of its steps are generated and the loop is held
        await Task.Delay(100); // time for a step written to the stream to reach the reader, were it written
        Assert.False(first.IsCompleted, "a held step reached the reader before the request ended");
        probe.Resume();
        var steps = new List<GenerationStep>();
        for (var more = await first; more; more = await held.MoveNextAsync())
            steps.Add(held.Current);
        await held.DisposeAsync();

        Assert.Equal(12, steps.Count);
        for (var sequence = 0; sequence < 3; sequence++)
            Assert.Equal(Tokens(streamed, sequence), Tokens(steps, sequence));
        Assert.Equal(streamed.SelectMany(s => s.Tokens).Select(t => (t.Sequence, t.Finish)), steps.SelectMany(s => s.Tokens).Select(t => (t.Sequence, t.Finish)));
    }

    [Fact]
    public async Task Request_arriving_mid_generation_joins_the_batch_at_the_next_step()
    {
        using var probe = new SchedulerProbe(tiny);
        var promptA = TinyModel.Prompt(14, salt: 4);
        var promptB = TinyModel.Prompt(5, salt: 5);
        probe.PauseAfterStep(size => size == 1);

        var a = Collect(probe.Scheduler.Generate(Request(promptA, 10, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // A has decoded one step and the loop is held between steps
        var b = Collect(probe.Scheduler.Generate(Request(promptB, 6, Greedy), CancellationToken.None));
        probe.Resume();
        var stepsA = await a;
        var stepsB = await b;

        Assert.Equal([1, 2], probe.BatchSizes.Take(2));
        Assert.Equal(tiny.GreedyReference(promptA, 10), Tokens(stepsA, 0));
        Assert.Equal(tiny.GreedyReference(promptB, 6), Tokens(stepsB, 0));
    }

    [Fact]
    public async Task Cancelled_request_leaves_at_the_next_step_while_the_other_goes_on()
    {
        using var probe = new SchedulerProbe(tiny);
        var promptA = TinyModel.Prompt(8, salt: 6);
        var promptB = TinyModel.Prompt(10, salt: 7);
        using var cancelA = new CancellationTokenSource();
        // A runs alone first and the loop is held after its first step, so B always joins while A has most of its
        // tokens to go (on a loaded machine B could otherwise finish before A's task even started).
        probe.PauseAfterStep(size => size == 1);

        var receivedA = new List<GenerationStep>();
        var a = Task.Run(async () =>
        {
            await foreach (var step in probe.Scheduler.Generate(Request(promptA, 60, Greedy), cancelA.Token).ConfigureAwait(false))
                receivedA.Add(step);
        });
        await probe.WaitUntilPausedAsync();
        var b = Collect(probe.Scheduler.Generate(Request(promptB, 20, Greedy), CancellationToken.None));
        probe.PauseAfterStep(size => size == 2);
        probe.Resume();
        await probe.WaitUntilPausedAsync(); // both are in the batch
        var stepsBeforeCancel = probe.BatchSizes.Count;
        cancelA.Cancel();
        probe.Resume();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a);
        var stepsB = await b;

        Assert.All(probe.BatchSizes.Skip(stepsBeforeCancel), size => Assert.Equal(1, size));
        Assert.NotEmpty(probe.BatchSizes.Skip(stepsBeforeCancel));
        Assert.True(receivedA.Count < 60);
        Assert.Equal(tiny.GreedyReference(promptB, 20), Tokens(stepsB, 0));
        Assert.Contains(probe.Log.At(LogLevel.Information), m => m.Contains("cancelled after", StringComparison.Ordinal));
        Assert.DoesNotContain(probe.Log.Entries, e => e.Level >= LogLevel.Warning); // a client leaving is routine
    }

    [Fact]
    public async Task Full_queue_refuses_with_QueueFullException_and_the_batch_cap_holds()
    {
        using var probe = new SchedulerProbe(tiny, maxQueuedRequests: 1, maxBatchSequences: 2);
        var prompt = TinyModel.Prompt(7, salt: 8);
        probe.PauseAfterStep(_ => true);

        var a = Collect(probe.Scheduler.Generate(Request(prompt, 5, Greedy, numSequences: 2), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // A fills the batch
        var b = Collect(probe.Scheduler.Generate(Request(prompt, 5, Greedy), CancellationToken.None)); // waits in the queue
        var refused = Assert.Throws<QueueFullException>(() => probe.Scheduler.Generate(Request(prompt, 5, Greedy), CancellationToken.None));
        probe.Resume();
        await a;
        var stepsB = await b;

        Assert.Equal(1, refused.MaxQueuedRequests);
        Assert.All(probe.BatchSizes, size => Assert.InRange(size, 1, 2));
        Assert.Equal(tiny.GreedyReference(prompt, 5), Tokens(stepsB, 0));
    }

    [Fact]
    public async Task Request_cancelled_while_queued_ends_without_being_prefilled()
    {
        using var probe = new SchedulerProbe(tiny, maxBatchSequences: 1);
        var prompt = TinyModel.Prompt(7, salt: 9);
        using var cancel = new CancellationTokenSource();
        probe.PauseAfterStep(_ => true);

        var a = Collect(probe.Scheduler.Generate(Request(prompt, 4, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync();
        var queued = probe.Scheduler.Generate(Request(prompt, 4, Greedy), cancel.Token);
        cancel.Cancel();
        probe.Resume();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Collect(queued));
        await a;
        Assert.Single(probe.Prefills);
    }

    [Fact]
    public async Task Sequence_stops_at_end_id_with_the_end_token_included()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 10);
        var reference = tiny.GreedyReference(prompt, 30);
        var endId = reference[4];
        var expected = reference[..(Array.IndexOf(reference, endId) + 1)];

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 30, Greedy) with { EndId = endId }, CancellationToken.None));

        Assert.Equal(expected, Tokens(steps, 0));
        Assert.Equal(FinishReason.EndId, steps[^1].Tokens[0].Finish);
    }

    [Fact]
    public async Task Sequence_stops_at_a_stop_word_over_generated_tokens()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 11);
        var reference = tiny.GreedyReference(prompt, 30);
        int[] stopWord = [reference[5], reference[6]];
        var end = Enumerable.Range(1, reference.Length - 1).First(i => reference[i - 1] == stopWord[0] && reference[i] == stopWord[1]);
        // The prompt's last token followed by the first generated one must not count: only generated tokens match.
        int[] acrossPrompt = [prompt[^1], reference[0]];

        var steps = await Collect(probe.Scheduler.Generate(
            Request(prompt, 30, Greedy) with { StopWords = [[999, 998, 997], acrossPrompt, stopWord] }, CancellationToken.None));

        Assert.Equal(reference[..(end + 1)], Tokens(steps, 0));
        Assert.Equal(FinishReason.StopWord, steps[^1].Tokens[0].Finish);
    }

    [Fact]
    public async Task Sequence_stops_at_the_context_limit()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(tiny.ContextLength - 6, salt: 12);

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, int.MaxValue, Greedy), CancellationToken.None));

        Assert.Equal(tiny.GreedyReference(prompt, 6), Tokens(steps, 0));
        Assert.Equal(6, steps.Count);
        Assert.Equal(FinishReason.ContextLimit, steps[^1].Tokens[0].Finish);
    }

    [Fact]
    public async Task Samples_that_finish_early_leave_the_step_while_the_others_continue()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 13);
        var sampling = new SamplingParameters(TopK: 3, Seed: 17);
        var free = await Collect(probe.Scheduler.Generate(Request(prompt, 12, sampling, numSequences: 3), CancellationToken.None));
        // End on the token sample 0 drew third: sample 0 must stop there, the other samples only at that token or at 12.
        var endId = Tokens(free, 0)[2];

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 12, sampling, numSequences: 3) with { EndId = endId }, CancellationToken.None));

        for (var s = 0; s < 3; s++)
        {
            var unconstrained = Tokens(free, s);
            var stop = Array.IndexOf(unconstrained, endId);
            var expected = stop < 0 ? unconstrained : unconstrained[..(stop + 1)];
            Assert.Equal(expected, Tokens(steps, s));
            var last = steps.SelectMany(step => step.Tokens).Last(t => t.Sequence == s);
            Assert.Equal(stop < 0 ? FinishReason.Length : FinishReason.EndId, last.Finish);
        }
        Assert.Equal(3, Tokens(steps, 0).Length);
    }

    [Fact]
    public async Task Bad_words_never_appear_in_the_output()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 14);
        var reference = tiny.GreedyReference(prompt, 10);

        var steps = await Collect(probe.Scheduler.Generate(
            Request(prompt, 10, Greedy) with { BadWords = [[reference[0]], [reference[3]]] }, CancellationToken.None));

        Assert.DoesNotContain(reference[0], Tokens(steps, 0));
        Assert.DoesNotContain(reference[3], Tokens(steps, 0));
    }

    [Fact]
    public async Task A_failure_while_sampling_fails_that_stream_and_the_scheduler_keeps_serving()
    {
        using var probe = new SchedulerProbe(tiny);
        var prompt = TinyModel.Prompt(9, salt: 15);
        var everyToken = Enumerable.Range(0, tiny.Model.Config.VocabSize).Select(id => new[] { id }).ToArray();

        var failed = probe.Scheduler.Generate(Request(prompt, 5, Greedy) with { BadWords = everyToken }, CancellationToken.None);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Collect(failed));
        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 5, Greedy), CancellationToken.None));

        Assert.Contains("bad_words", error.Message);
        Assert.Equal(tiny.GreedyReference(prompt, 5), Tokens(steps, 0));
        Assert.Single(probe.Log.At(LogLevel.Error), m => m.EndsWith(" failed", StringComparison.Ordinal)); // an internal fault is an error
    }

    [Fact]
    public void Invalid_requests_are_refused_at_once_naming_the_field()
    {
        using var probe = new SchedulerProbe(tiny, maxBatchSequences: 4);
        var prompt = TinyModel.Prompt(5, salt: 16);
        string? Field(GenerationRequest request) =>
            Assert.Throws<InvalidGenerationRequestException>(() => probe.Scheduler.Generate(request, CancellationToken.None)).Field;

        Assert.Equal("PromptIds", Field(Request([], 5, Greedy)));
        Assert.Equal("PromptIds", Field(Request([1, 1000], 5, Greedy)));
        Assert.Equal("PromptIds", Field(Request(TinyModel.Prompt(tiny.ContextLength, 0), 5, Greedy)));
        Assert.Equal("MaxNewTokens", Field(Request(prompt, 0, Greedy)));
        Assert.Equal("NumSequences", Field(Request(prompt, 5, Greedy, numSequences: 5)));
        Assert.Equal("Sampling.TopP", Field(Request(prompt, 5, new SamplingParameters(TopP: 2f))));
        Assert.Equal("BadWords", Field(Request(prompt, 5, Greedy) with { BadWords = [[5, 1000]] }));
        Assert.Equal("StopWords", Field(Request(prompt, 5, Greedy) with { StopWords = [[]] }));
        Assert.Equal("StopWords", Field(Request(prompt, 5, Greedy) with { StopWords = [[5, -42]] }));
    }

    [Fact]
    public async Task Disposing_the_scheduler_fails_running_and_queued_streams_instead_of_leaving_them_hanging()
    {
        using var probe = new SchedulerProbe(tiny, maxQueuedRequests: 64, maxBatchSequences: 1);
        var prompt = TinyModel.Prompt(7, salt: 18);
        probe.PauseAfterStep(_ => true);
        var running = Collect(probe.Scheduler.Generate(Request(prompt, 50, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync();

        var disposing = Task.Run(probe.Scheduler.Dispose);
        // Until Dispose has begun, Generate still queues; once it throws, the loop will stop at its next turn.
        var queued = new List<Task<List<GenerationStep>>>();
        while (true)
        {
            try
            {
                queued.Add(Collect(probe.Scheduler.Generate(Request(prompt, 5, Greedy), CancellationToken.None)));
                await Task.Yield();
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (QueueFullException)
            {
                // The queue filled before Dispose began (a busy machine starts its task late): keep asking until Generate
                // refuses as disposed, which it checks before the queue.
                await Task.Delay(1);
            }
        }
        probe.Resume();
        await disposing;

        await Assert.ThrowsAsync<ObjectDisposedException>(() => running);
        foreach (var request in queued)
            await Assert.ThrowsAsync<ObjectDisposedException>(() => request);
    }

    [Fact]
    public async Task Each_request_gets_a_span_under_the_callers_span()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GenerationTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var probe = new SchedulerProbe(tiny);
        var request = Request(TinyModel.Prompt(6, salt: 17), 4, Greedy, numSequences: 2);
        using var caller = new Activity("caller").Start();

        var steps = probe.Scheduler.Generate(request, CancellationToken.None);
        Assert.Same(caller, Activity.Current);
        await Collect(steps);

        var span = Assert.Single(stopped, a => (string?)a.GetTagItem("gen_ai.request.id") == request.Id);
        Assert.Equal(caller.TraceId, span.TraceId);
        Assert.Equal(caller.SpanId, span.ParentSpanId);
        Assert.Equal(8, span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(new[] { "Length", "Length" }, span.GetTagItem("gen_ai.response.finish_reasons"));
    }
}
