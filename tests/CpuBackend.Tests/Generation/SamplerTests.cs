using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

public class SamplerTests
{
    public static TheoryData<string> SamplingCases => SamplingFixtures.CaseNames(greedy: false);

    public static TheoryData<string> GreedyCases => SamplingFixtures.CaseNames(greedy: true);

    [Theory]
    [MemberData(nameof(SamplingCases))]
    [MemberData(nameof(GreedyCases))]
    public void Process_gives_the_scores_of_the_Hugging_Face_processors_and_warpers(string name)
    {
        var c = SamplingFixtures.Case(name);
        var logits = SamplingFixtures.Logits(c);
        var expected = SamplingFixtures.Scores(c);

        SamplingFixtures.Sampler(c).Process(logits, SamplingFixtures.Context(c));

        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsNegativeInfinity(expected[i]) == float.IsNegativeInfinity(logits[i]),
                $"token {i}: expected {expected[i]}, got {logits[i]}");
            if (!float.IsNegativeInfinity(expected[i]))
                Assert.Equal(expected[i], logits[i], 1e-5f);
        }
    }

    [Theory]
    [MemberData(nameof(GreedyCases))]
    public void Greedy_choice_is_the_arg_max_of_the_processed_logits_with_its_log_softmax(string name)
    {
        var c = SamplingFixtures.Case(name);

        var chosen = SamplingFixtures.Sampler(c).Next(SamplingFixtures.Logits(c), SamplingFixtures.Context(c));

        Assert.Equal(c.GetProperty("argmax").GetInt32(), chosen.TokenId);
        Assert.Equal(c.GetProperty("log_prob").GetDouble(), chosen.LogProb, 1e-4);
    }

    [Theory]
    [MemberData(nameof(SamplingCases))]
    public void Draws_follow_the_reference_distribution(string name)
    {
        var c = SamplingFixtures.Case(name);
        var expected = SamplingFixtures.Probabilities(c);
        var context = SamplingFixtures.Context(c);
        var sampler = SamplingFixtures.Sampler(c, seed: 7);
        var logits = SamplingFixtures.Logits(c);
        var scratch = new float[logits.Length];
        var counts = new int[expected.Length];
        const int draws = 20_000;

        for (var n = 0; n < draws; n++)
        {
            logits.CopyTo(scratch, 0);
            var chosen = sampler.Next(scratch, context);
            Assert.True(expected[chosen.TokenId] > 0, $"drew token {chosen.TokenId}, which the reference removes");
            Assert.Equal(Math.Log(expected[chosen.TokenId]), chosen.LogProb, 1e-4);
            counts[chosen.TokenId]++;
        }

        // 20000 draws: a frequency's standard deviation is at most 0.0036, so 0.02 is over five of them.
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs((double)counts[i] / draws - expected[i]) < 0.02, $"token {i}: frequency {(double)counts[i] / draws}, probability {expected[i]}");
    }

    [Fact]
    public void Same_seed_and_sequence_draw_the_same_tokens()
    {
        Assert.Equal(DrawMany(seed: 11, sequence: 0), DrawMany(seed: 11, sequence: 0));
    }

    [Fact]
    public void Different_seeds_or_sequences_draw_different_tokens()
    {
        var reference = DrawMany(seed: 11, sequence: 0);
        Assert.NotEqual(reference, DrawMany(seed: 12, sequence: 0));
        Assert.NotEqual(reference, DrawMany(seed: 11, sequence: 1));
    }

    [Fact]
    public void Repetition_penalty_counts_a_repeated_token_once()
    {
        var logits = new float[] { 2f, -2f, 1f };
        var sampler = new Sampler(new SamplingParameters(TopK: 1, RepetitionPenalty: 2f), [], seed: 0, sequence: 0);

        sampler.Process(logits, [0, 0, 0, 1, 1]);

        Assert.Equal(new[] { 1f, -4f, 1f }, logits);
    }

    [Fact]
    public void Presence_and_frequency_penalties_count_the_generated_tokens_only()
    {
        var logits = new float[] { 0f, 0f, 0f, 0f };
        var sampler = new Sampler(new SamplingParameters(TopK: 1, PresencePenalty: 1f, FrequencyPenalty: 0.5f), [], seed: 0, sequence: 0, promptLength: 2);

        // Prompt [3, 3], then 1 generated twice and 2 once.
        sampler.Process(logits, [3, 3, 1, 2, 1]);

        Assert.Equal(new[] { 0f, -2f, -1.5f, 0f }, logits);
    }

    [Fact]
    public void The_logit_bias_is_added_before_the_choice()
    {
        var sampler = new Sampler(new SamplingParameters(TopK: 1, LogitBias: [0f, -100f, 3f]), [], seed: 0, sequence: 0);

        Assert.Equal(2, sampler.Next([0f, 5f, 1f], [0]).TokenId);
    }

    [Theory]
    [InlineData(1, 0f)]    // greedy
    [InlineData(0, 1f)]    // sampling
    [InlineData(0, 0.5f)]  // sampling with top-p
    [InlineData(0, 1e-30f)]
    public void Logits_that_overflow_to_infinity_share_all_the_probability(int topK, float topP)
    {
        // A bias of 3.4e38 on tokens 1 and 3, on top of a presence penalty of -3.4e38 for token 1 (generated once):
        // token 1's logit passes float's limit. Before, every probability was NaN and the draw took the last token.
        var bias = new[] { 0f, 3.4e38f, 0f, 3.4e38f, 0f };
        var parameters = new SamplingParameters(TopK: topK, TopP: topP == 0f ? 1f : topP, PresencePenalty: -3.4e38f, LogitBias: bias);
        for (var seed = 0UL; seed < 20; seed++)
        {
            var sampler = new Sampler(parameters, [], seed, sequence: 0, promptLength: 1);

            var token = sampler.Next([1f, 1f, 2f, 1f, 0.5f], [0, 1]);

            Assert.Equal(1, token.TokenId); // the one logit that overflowed
            Assert.Equal(0f, token.LogProb);
        }
    }

    [Fact]
    public void Several_overflowed_logits_are_drawn_uniformly_and_reported_as_such()
    {
        var parameters = new SamplingParameters(TopK: 0, PresencePenalty: -3.4e38f, LogitBias: [3.4e38f, 0f, 3.4e38f, 0f]);
        var drawn = new HashSet<int>();
        for (var seed = 0UL; seed < 40; seed++)
        {
            var token = new Sampler(parameters, [], seed, sequence: 0, promptLength: 1).Next([1f, 5f, 1f, 0f], [9, 0, 2]);
            Assert.Contains(token.TokenId, new[] { 0, 2 });
            Assert.Equal(-MathF.Log(2f), token.LogProb, 5);
            drawn.Add(token.TokenId);
        }
        Assert.Equal(2, drawn.Count);
    }

    [Fact]
    public void The_end_token_waits_for_the_minimum_number_of_new_tokens()
    {
        var sampler = new Sampler(new SamplingParameters(TopK: 1, MinNewTokens: 2), [], seed: 0, sequence: 0, promptLength: 1, endId: 1);

        Assert.Equal(2, sampler.Next([0f, 5f, 1f], [0]).TokenId);
        Assert.Equal(2, sampler.Next([0f, 5f, 1f], [0, 2]).TokenId);
        Assert.Equal(1, sampler.Next([0f, 5f, 1f], [0, 2, 2]).TokenId);
    }

    [Fact]
    public void Bad_word_is_banned_only_after_its_prefix()
    {
        var sampler = new Sampler(new SamplingParameters(Temperature: 0f), [[3, 1]], seed: 0, sequence: 0);

        Assert.Equal(1, sampler.Next([0f, 5f, 1f], [2]).TokenId);
        Assert.Equal(2, sampler.Next([0f, 5f, 1f], [2, 3]).TokenId);
    }

    [Fact]
    public void Banning_every_token_is_an_error_not_a_token()
    {
        var sampler = new Sampler(new SamplingParameters(), [[0], [1]], seed: 0, sequence: 0);

        var error = Assert.Throws<InvalidOperationException>(() => sampler.Next([1f, 2f], [0]));
        Assert.Contains("bad_words", error.Message);
    }

    [Theory]
    [InlineData(-1, 1f, 1f, 1f, "Sampling.TopK")]
    [InlineData(0, 1.5f, 1f, 1f, "Sampling.TopP")]
    [InlineData(0, float.NaN, 1f, 1f, "Sampling.TopP")]
    [InlineData(0, 1f, -0.5f, 1f, "Sampling.Temperature")]
    [InlineData(0, 1f, 1f, 0f, "Sampling.RepetitionPenalty")]
    public void Invalid_parameter_is_refused_by_name(int topK, float topP, float temperature, float penalty, string field)
    {
        var error = Assert.Throws<InvalidGenerationRequestException>(() =>
            new Sampler(new SamplingParameters(topK, topP, temperature, penalty), [], seed: 0, sequence: 0));
        Assert.Equal(field, error.Field);
    }

    private static int[] DrawMany(ulong seed, int sequence)
    {
        var c = SamplingFixtures.Case("top_p_0_95_flat");
        var sampler = SamplingFixtures.Sampler(c, seed, sequence);
        var logits = SamplingFixtures.Logits(c);
        return Enumerable.Range(0, 50).Select(_ => sampler.Next(logits.ToArray(), []).TokenId).ToArray();
    }
}
