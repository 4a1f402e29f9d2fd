using GptjAspire.CpuBackend.Generation;
using static GptjAspire.CpuBackend.Tests.Generation.GenerationRequests;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>Long prompts go in chunks between decode steps, with the same greedy tokens as one whole prefill.</summary>
public class ChunkedPrefillTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(0)]
    public async Task Greedy_tokens_of_a_chunked_prefill_equal_those_of_one_whole_prefill(int chunk)
    {
        using var probe = new SchedulerProbe(tiny, configure: o => o.PrefillChunkTokens = chunk);
        var prompt = TinyModel.Prompt(50, salt: 50);

        var steps = await Collect(probe.Scheduler.Generate(Request(prompt, 20, Greedy, numSequences: 2), CancellationToken.None));

        var reference = tiny.GreedyReference(prompt, 20); // one Prefill of all 50 tokens, then decodes
        Assert.Equal(reference, Tokens(steps, 0));
        Assert.Equal(reference, Tokens(steps, 1));
        var size = chunk == 0 ? prompt.Length : chunk;
        Assert.Equal(Enumerable.Range(0, (prompt.Length + size - 1) / size).Select(i => (long)Math.Min(size, prompt.Length - i * size)), probe.Prefills);
    }

    [Theory]
    [InlineData(8, new[] { "prefill 8", "decode 1", "prefill 8", "decode 1", "prefill 8", "decode 1", "prefill 6", "decode 2" })]
    [InlineData(0, new[] { "prefill 30", "decode 2" })]
    public async Task A_running_stream_gets_a_decode_step_between_the_chunks_of_a_long_prompt(int chunk, string[] expected)
    {
        using var probe = new SchedulerProbe(tiny, configure: o => o.PrefillChunkTokens = chunk);
        var promptA = TinyModel.Prompt(5, salt: 51);
        var promptB = TinyModel.Prompt(30, salt: 52);
        probe.PauseAfterStep(size => size == 1);

        var a = Collect(probe.Scheduler.Generate(Request(promptA, 40, Greedy), CancellationToken.None));
        await probe.WaitUntilPausedAsync(); // A runs; the loop is held between two steps
        var mark = probe.Events.Count;
        var b = Collect(probe.Scheduler.Generate(Request(promptB, 6, Greedy), CancellationToken.None));
        probe.Resume();
        var stepsA = await a;
        var stepsB = await b;

        Assert.Equal(expected, probe.Events.Skip(mark).Take(expected.Length));
        Assert.Equal(tiny.GreedyReference(promptA, 40), Tokens(stepsA, 0));
        Assert.Equal(tiny.GreedyReference(promptB, 6), Tokens(stepsB, 0));
    }

    [Fact]
    public async Task A_request_cancelled_between_two_chunks_gets_no_more_chunks_and_releases_its_reservation()
    {
        using var probe = new SchedulerProbe(tiny, configure: o => o.PrefillChunkTokens = 8);
        using var cancel = new CancellationTokenSource();
        probe.PauseAfterChunk(_ => true);

        var cancelled = Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(30, salt: 53), 6, Greedy), cancel.Token));
        await probe.WaitUntilPausedAsync(); // one chunk of 8 is in
        await cancel.CancelAsync();
        probe.Resume();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var after = await Collect(probe.Scheduler.Generate(Request(TinyModel.Prompt(4, salt: 54), 3, Greedy), CancellationToken.None));

        Assert.Equal([8L, 4L], probe.Prefills);
        Assert.Equal(3, Tokens(after, 0).Length);
        Assert.Equal(0, probe.Scheduler.Budget.ReservedBytes);
    }
}
