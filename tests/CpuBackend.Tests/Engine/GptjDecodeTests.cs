using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Batched decode, forked caches and input checks of <see cref="GptjModel"/>.</summary>
public sealed class GptjDecodeTests
{
    private static readonly ReferenceFixture Reference = ReferenceFixture.Load("partial-rotary-f32");

    [Fact]
    public void Batched_decode_of_sequences_at_different_lengths_matches_each_greedy_reference()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        // Seven sequences (a full 5-row kernel block and a partial one), prompts of different lengths.
        var prompts = Enumerable.Range(0, 7).Select(i => Reference.Prompts[i % 2].Ids[..(Reference.Prompts[i % 2].Ids.Length - i / 2)]).ToArray();
        var expected = prompts.Select(p => GptjParityTests.Greedy(model, p, 12)).ToArray();

        var caches = prompts.Select(_ => model.CreateCache()).ToArray();
        var next = new int[prompts.Length];
        var logits = new float[prompts.Length * vocab];
        for (var s = 0; s < prompts.Length; s++)
        {
            model.Prefill(prompts[s], caches[s], logits.AsSpan(0, vocab));
            next[s] = GptjParityTests.ArgMax(logits.AsSpan(0, vocab));
        }
        var actual = prompts.Select(_ => new List<int>()).ToArray();
        for (var step = 0; step < 12; step++)
        {
            for (var s = 0; s < prompts.Length; s++) actual[s].Add(next[s]);
            if (step == 11) break;
            model.Decode(next, caches, logits);
            for (var s = 0; s < prompts.Length; s++) next[s] = GptjParityTests.ArgMax(logits.AsSpan(s * vocab, vocab));
        }
        for (var s = 0; s < prompts.Length; s++) Assert.Equal(expected[s], actual[s]);
        Assert.All(caches.Zip(prompts), c => Assert.Equal(c.Second.Length + 11, c.First.Length));
    }

    [Fact]
    public void Forked_caches_continue_independently_like_fresh_prefills()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        var prompt = Reference.Prompts[1].Ids;
        var shared = model.CreateCache();
        var logits = new float[2 * vocab];
        model.Prefill(prompt, shared, logits.AsSpan(0, vocab));
        var fork = shared.Fork();
        Assert.Equal(shared.Length, fork.Length);

        model.Decode([7, 300], [shared, fork], logits);

        foreach (var (token, row) in new[] { (7, 0), (300, 1) })
        {
            var fresh = new float[vocab];
            model.Prefill([.. prompt, token], model.CreateCache(), fresh);
            Assert.InRange(GptjParityTests.MaxAbsDifference(logits.AsSpan(row * vocab, vocab), fresh), 0, 1e-5);
        }
    }

    // Forks read their parent's positions in place (KvRows): the parent keeps appending and growing beside them, a fork
    // grows past its prefix, and a fork of a fork reads through two levels.
    [Fact]
    public void Forks_of_forks_that_grow_beside_their_parent_continue_like_fresh_prefills()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        var prompt = Reference.Prompts[1].Ids;
        var parent = model.CreateCache();
        model.Prefill(prompt, parent, new float[vocab]);
        var child = parent.Fork(); // sized for the prompt: it grows at its first step
        List<int> parentTokens = [], childTokens = [], grandchildTokens = [];
        var logits = new float[3 * vocab];
        for (var step = 0; step < 3; step++)
        {
            parentTokens.Add(11 + step);
            childTokens.Add(200 + step);
            model.Decode([parentTokens[^1], childTokens[^1]], [parent, child], logits);
        }
        var grandchild = child.Fork();
        grandchildTokens.AddRange(childTokens);
        for (var step = 0; step < 3; step++)
        {
            parentTokens.Add(40 + step);
            childTokens.Add(500 + step);
            grandchildTokens.Add(900 + step);
            model.Decode([parentTokens[^1], childTokens[^1], grandchildTokens[^1]], [parent, child, grandchild], logits);
        }

        foreach (var (tokens, row) in new[] { (parentTokens, 0), (childTokens, 1), (grandchildTokens, 2) })
        {
            var fresh = new float[vocab];
            model.Prefill([.. prompt, .. tokens], model.CreateCache(), fresh);
            Assert.InRange(GptjParityTests.MaxAbsDifference(logits.AsSpan(row * vocab, vocab), fresh), 0, 1e-5);
        }
    }

    [Fact]
    public void Prefill_in_pieces_equals_prefill_in_one_pass()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var ids = Reference.Prompts[1].Ids;
        var whole = new float[model.Config.VocabSize];
        var pieces = new float[model.Config.VocabSize];
        model.Prefill(ids, model.CreateCache(), whole);
        var cache = model.CreateCache();
        model.Prefill(ids[..5], cache, pieces);
        model.Prefill(ids[5..], cache, pieces);
        Assert.InRange(GptjParityTests.MaxAbsDifference(pieces, whole), 0, 1e-5);
    }

    [Theory]
    [InlineData(WeightType.F32)]
    [InlineData(WeightType.F16)]
    [InlineData(WeightType.BF16)]
    [InlineData(WeightType.Int8)]
    public void Forward_of_many_tokens_equals_decoding_them_one_by_one(WeightType storage)
    {
        // Long inputs take the kernels' widened-tile path, single tokens the direct one: both must agree.
        using var model = GptjModel.Load(Reference.Directory("safetensors"), storage, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        int[] ids = [.. Reference.Prompts[1].Ids, .. Reference.Prompts[1].Greedy];
        var all = new float[ids.Length * vocab];
        model.Forward(ids, model.CreateCache(), all);

        var cache = model.CreateCache();
        var one = new float[vocab];
        for (var t = 0; t < ids.Length; t++)
        {
            if (t == 0) model.Prefill(ids[..1], cache, one);
            else model.Decode([ids[t]], [cache], one);
            Assert.InRange(GptjParityTests.MaxAbsDifference(one, all.AsSpan(t * vocab, vocab)), 0, 1e-4);
        }
    }

    [Fact]
    public void Prompt_beyond_the_context_length_is_rejected_naming_the_limit()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var tokens = new int[model.Config.ContextLength + 1];
        var error = Assert.Throws<ArgumentException>(() => model.Prefill(tokens, model.CreateCache(), new float[model.Config.VocabSize]));
        Assert.Contains($"context length {model.Config.ContextLength}", error.Message);
    }

    [Fact]
    public void Token_outside_the_vocabulary_is_rejected_naming_it()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var cache = model.CreateCache();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Prefill([1, 1000], cache, new float[model.Config.VocabSize]));
        Assert.Contains("token id 1000 at index 1", error.Message);
        Assert.Equal(0, cache.Length);
    }

    [Fact]
    public void The_same_cache_twice_in_one_decode_step_is_rejected()
    {
        using var model = GptjModel.Load(Reference.Directory("safetensors"), null, NullLogger.Instance);
        var cache = model.CreateCache();
        model.Prefill([1, 2], cache, new float[model.Config.VocabSize]);
        Assert.Throws<ArgumentException>(() => model.Decode([3, 4], [cache, cache], new float[2 * model.Config.VocabSize]));
    }
}
