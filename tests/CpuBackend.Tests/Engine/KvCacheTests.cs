using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Preallocated caches and the f16 cache: against the growing f32 cache and the PyTorch reference.</summary>
public sealed class KvCacheTests
{
    public static TheoryData<string> Fixtures() => new(ReferenceFixture.Names);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void A_preallocated_f32_cache_gives_the_same_logits_as_the_growing_one_and_never_grows(string fixture)
    {
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        var prompt = reference.Prompts[^1];
        var growingLogits = new float[prompt.Ids.Length * model.Config.VocabSize];
        var sizedLogits = new float[growingLogits.Length];
        model.Forward(prompt.Ids, model.CreateCache(), growingLogits);
        model.Forward(prompt.Ids, model.CreateCache(prompt.Ids.Length, KvCacheType.F32), sizedLogits);
        var sized = model.CreateCache(prompt.Ids.Length + prompt.Greedy.Length, KvCacheType.F32);
        var capacity = sized.Capacity;

        var tokens = GptjParityTests.Greedy(model, prompt.Ids, prompt.Greedy.Length, sized);

        Assert.Equal(growingLogits, sizedLogits);
        Assert.Equal(prompt.Greedy, tokens);
        Assert.Equal(capacity, sized.Capacity);
    }

    // f16 keeps 11 significant bits of each key and value (relative rounding 2^-12); on these logits (std 2, max 8)
    // that moves them by at most 0.0063 here, so the bound is 1e-2 (f32: 1e-4). Along the reference's greedy path the
    // f16 cache picks the same token wherever the f32 logits separate the top two by more than twice that bound; on
    // these random weights some positions are closer ties than that, where f16 rounding may rightly pick the other.
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void An_f16_cache_keeps_logits_within_1e2_of_pytorch_and_of_f32_along_the_greedy_path(string fixture)
    {
        const double bound = 1e-2;
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        foreach (var prompt in reference.Prompts)
        {
            var logits = new float[prompt.Ids.Length * vocab];
            model.Forward(prompt.Ids, model.CreateCache(prompt.Ids.Length, KvCacheType.F16), logits);
            Assert.InRange(GptjParityTests.MaxAbsDifference(logits, prompt.Logits), 0, bound);

            var length = prompt.Ids.Length + prompt.Greedy.Length;
            KvCache f32 = model.CreateCache(length, KvCacheType.F32), f16 = model.CreateCache(length, KvCacheType.F16);
            float[] exact = new float[vocab], half = new float[vocab];
            model.Prefill(prompt.Ids, f32, exact);
            model.Prefill(prompt.Ids, f16, half);
            foreach (var token in prompt.Greedy[..^1]) // teacher-forced on PyTorch's greedy tokens
            {
                Assert.InRange(GptjParityTests.MaxAbsDifference(half, exact), 0, bound);
                if (TopTwoMargin(exact) > 2 * bound)
                    Assert.Equal(GptjParityTests.ArgMax(exact), GptjParityTests.ArgMax(half));
                model.Decode([token], [f32], exact);
                model.Decode([token], [f16], half);
            }
        }
    }

    private static float TopTwoMargin(float[] logits)
    {
        var sorted = logits.OrderDescending().Take(2).ToArray();
        return sorted[0] - sorted[1];
    }

    [Fact]
    public void A_fork_into_a_preallocated_cache_continues_exactly_like_the_original()
    {
        var reference = ReferenceFixture.Load("partial-rotary-f32");
        using var model = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        var ids = reference.Prompts[0].Ids;
        var vocab = model.Config.VocabSize;
        foreach (var type in new[] { KvCacheType.F32, KvCacheType.F16 })
        {
            var original = model.CreateCache(ids.Length + 1, type);
            model.Prefill(ids, original, new float[vocab]);
            var fork = original.Fork(ids.Length + 1);
            float[] a = new float[vocab], b = new float[vocab];

            model.Decode([7], [original], a);
            model.Decode([7], [fork], b);

            Assert.Equal(a, b);
            Assert.Equal(type, fork.Type);
        }
    }

    // The parent's keys and values lie in native memory that is reused once unreachable (KvMemory): a fork must keep the
    // parent's rows alive, or the caches allocated here would take that memory and overwrite the prompt the fork reads.
    [Fact]
    public void A_fork_keeps_reading_the_prompt_after_its_parent_is_collected_and_its_memory_reused()
    {
        var reference = ReferenceFixture.Load("partial-rotary-f32");
        using var model = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        var ids = reference.Prompts[0].Ids;
        var vocab = model.Config.VocabSize;
        var expected = new float[vocab];
        var fork = ForkOfCollectedParent(model, ids, expected);
        Collect();
        var others = Enumerable.Range(0, 8).Select(_ => model.CreateCache(ids.Length + 1, KvCacheType.F32)).ToArray();
        foreach (var other in others) model.Prefill(Enumerable.Repeat(3, ids.Length).ToArray(), other, new float[vocab]);

        var actual = new float[vocab];
        model.Decode([7], [fork], actual);

        Assert.Equal(expected, actual);
        GC.KeepAlive(others);
    }

    [Fact]
    public void A_released_cache_gives_its_memory_to_the_pool_at_once_and_refuses_to_be_read_as_do_its_forks()
    {
        using var model = GptjModel.Load(ReferenceFixture.Load("partial-rotary-f32").Directory("safetensors"), null, NullLogger.Instance);
        var ids = ReferenceFixture.Load("partial-rotary-f32").Prompts[0].Ids;
        var vocab = model.Config.VocabSize;
        const int capacity = 29; // a size no other test here makes
        var parent = model.CreateCache(capacity, KvCacheType.F32);
        model.Prefill(ids, parent, new float[vocab]);
        var fork = parent.Fork(capacity);
        var size = KvMemory.SizeFor(KvCache.BytesPerPosition(model.Config, KvCacheType.F32) * capacity);
        var kept = model.KvMemoryPool.Count(size);

        parent.Release();
        parent.Release();

        Assert.Equal(kept + 1, model.KvMemoryPool.Count(size));
        Assert.Throws<ObjectDisposedException>(() => model.Decode([7], [parent], new float[vocab]));
        Assert.Throws<ObjectDisposedException>(() => model.Decode([7], [fork], new float[vocab]));
    }

    [Fact]
    public void Disposing_the_model_frees_the_memory_its_pool_kept()
    {
        var model = GptjModel.Load(ReferenceFixture.Load("partial-rotary-f32").Directory("safetensors"), null, NullLogger.Instance);
        model.CreateCache(5, KvCacheType.F32).Release();
        Assert.True(model.KvMemoryPool.RetainedBytes > 0);

        model.Dispose();

        Assert.Equal(0, model.KvMemoryPool.RetainedBytes);
    }

    [Fact]
    public void A_cache_refuses_a_capacity_outside_the_context_window()
    {
        using var model = GptjModel.Load(ReferenceFixture.Load("partial-rotary-f32").Directory("safetensors"), null, NullLogger.Instance);

        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateCache(0, KvCacheType.F32));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateCache(model.Config.ContextLength + 1, KvCacheType.F16));
    }

    /// <summary>A fork of a prefilled cache, and in <paramref name="logits"/> what its next step gives; the parent is
    /// referenced from nowhere but the fork once this returns.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static KvCache ForkOfCollectedParent(GptjModel model, int[] ids, float[] logits)
    {
        var parent = model.CreateCache(ids.Length + 1, KvCacheType.F32);
        model.Prefill(ids, parent, new float[logits.Length]);
        var twin = parent.Fork(ids.Length + 1);
        model.Decode([7], [twin], logits);
        return parent.Fork(ids.Length + 1);
    }

    internal static void Collect()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
