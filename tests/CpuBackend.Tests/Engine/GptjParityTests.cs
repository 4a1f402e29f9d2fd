using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The engine against the committed PyTorch reference: logits, greedy tokens, both file formats.</summary>
public sealed class GptjParityTests
{
    public static TheoryData<string, string> FixturesAndFormats()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in ReferenceFixture.Names)
        {
            data.Add(name, "safetensors");
            data.Add(name, "pytorch");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FixturesAndFormats))]
    public void Forward_logits_match_pytorch_within_1e4_in_checkpoint_dtype(string fixture, string format)
    {
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory(format), null, NullLogger.Instance);
        foreach (var prompt in reference.Prompts)
        {
            var logits = new float[prompt.Ids.Length * model.Config.VocabSize];
            model.Forward(prompt.Ids, model.CreateCache(), logits);
            Assert.InRange(MaxAbsDifference(logits, prompt.Logits), 0, 1e-4);
        }
    }

    [Theory]
    [MemberData(nameof(FixturesAndFormats))]
    public void Greedy_continuation_of_32_tokens_matches_pytorch(string fixture, string format)
    {
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory(format), null, NullLogger.Instance);
        foreach (var prompt in reference.Prompts)
            Assert.Equal(prompt.Greedy, Greedy(model, prompt.Ids, prompt.Greedy.Length));
    }

    // Prompt and greedy path in one pass is 38-43 rows: four or five passes of the panel kernels over each panel where
    // the prompts alone (7 and 12 rows) are one or two.
    [Theory]
    [InlineData("partial-rotary-f32")]
    [InlineData("full-rotary-f16")]
    [InlineData("sharded-bf16")]
    public void One_pass_over_prompt_and_greedy_path_matches_pytorch_logits_and_tokens(string fixture)
    {
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        var vocab = model.Config.VocabSize;
        foreach (var prompt in reference.Prompts)
        {
            int[] ids = [.. prompt.Ids, .. prompt.Greedy[..^1]];
            var logits = new float[ids.Length * vocab];
            model.Forward(ids, model.CreateCache(), logits);
            Assert.InRange(MaxAbsDifference(logits.AsSpan(0, prompt.Logits.Length), prompt.Logits), 0, 1e-4);
            for (var i = 0; i < prompt.Greedy.Length; i++)
                Assert.Equal(prompt.Greedy[i], ArgMax(logits.AsSpan((prompt.Ids.Length - 1 + i) * vocab, vocab)));
        }
    }

    [Theory]
    [InlineData("partial-rotary-f32")]
    [InlineData("full-rotary-f16")]
    [InlineData("sharded-bf16")]
    public void Safetensors_and_bin_copies_give_identical_logits(string fixture)
    {
        var reference = ReferenceFixture.Load(fixture);
        using var fromSafetensors = GptjModel.Load(reference.Directory("safetensors"), null, NullLogger.Instance);
        using var fromBin = GptjModel.Load(reference.Directory("pytorch"), null, NullLogger.Instance);
        var ids = reference.Prompts[1].Ids;
        var a = new float[ids.Length * fromSafetensors.Config.VocabSize];
        var b = new float[a.Length];
        fromSafetensors.Forward(ids, fromSafetensors.CreateCache(), a);
        fromBin.Forward(ids, fromBin.CreateCache(), b);
        Assert.Equal(a, b);
    }

    // Checkpoints already in f16/bf16 meet 1e-4 above (the reference uses the same rounded weights).
    // Converting f32 weights at load adds rounding: f16 keeps 11 significant bits (bound 2e-2, as the
    // issue asks); bf16 keeps 8 (2^-9 relative per weight), which on these logits (std 2, max 8)
    // shows up to 0.054, so its documented bound is 0.1.
    [Theory]
    [InlineData(WeightType.F16, 2e-2)]
    [InlineData(WeightType.BF16, 0.1)]
    [InlineData(WeightType.F32, 1e-4)]
    public void Converted_storage_stays_within_its_bound_of_the_f32_reference(WeightType storage, double bound)
    {
        var reference = ReferenceFixture.Load("partial-rotary-f32");
        using var model = GptjModel.Load(reference.Directory("safetensors"), storage, NullLogger.Instance);
        foreach (var prompt in reference.Prompts)
        {
            var logits = new float[prompt.Ids.Length * model.Config.VocabSize];
            model.Forward(prompt.Ids, model.CreateCache(), logits);
            Assert.InRange(MaxAbsDifference(logits, prompt.Logits), 0, bound);
        }
    }

    [Theory]
    [InlineData("partial-rotary-f32", "safetensors")]
    [InlineData("full-rotary-f16", "pytorch")]
    public void Int8_storage_stays_within_its_documented_bound_and_mostly_keeps_the_top_token(string fixture, string format)
    {
        // Per-row symmetric int8 rounds each weight by up to max|row|/254; docs/engine.md documents
        // the bound on these logits (std 2, max 8; observed 0.26-0.36): max |Δlogit| ≤ 0.5 and the reference's top-1 token kept at ≥ 90% of positions.
        var reference = ReferenceFixture.Load(fixture);
        using var model = GptjModel.Load(reference.Directory(format), WeightType.Int8, NullLogger.Instance);
        int positions = 0, agreeing = 0;
        var vocab = model.Config.VocabSize;
        foreach (var prompt in reference.Prompts)
        {
            var logits = new float[prompt.Ids.Length * vocab];
            model.Forward(prompt.Ids, model.CreateCache(), logits);
            Assert.InRange(MaxAbsDifference(logits, prompt.Logits), 0, 0.5);
            for (var t = 0; t < prompt.Ids.Length; t++, positions++)
                if (ArgMax(logits.AsSpan(t * vocab, vocab)) == ArgMax(prompt.Logits.AsSpan(t * vocab, vocab))) agreeing++;
        }
        Assert.InRange(agreeing, 0.9 * positions, positions);
    }

    /// <summary>Greedy continuation in <paramref name="cache"/> (default: a new growing f32 cache).</summary>
    internal static int[] Greedy(GptjModel model, int[] prompt, int count, KvCache? cache = null)
    {
        var vocab = model.Config.VocabSize;
        var logits = new float[vocab];
        cache ??= model.CreateCache();
        model.Prefill(prompt, cache, logits);
        var tokens = new int[count];
        for (var i = 0; i < count; i++)
        {
            tokens[i] = ArgMax(logits);
            if (i + 1 < count) model.Decode([tokens[i]], [cache], logits);
        }
        return tokens;
    }

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    internal static double MaxAbsDifference(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (var i = 0; i < actual.Length; i++) max = Math.Max(max, Math.Abs((double)actual[i] - expected[i]));
        return max;
    }
}
