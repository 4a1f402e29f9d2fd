using GptjAspire.CpuBackend.Generation;
using GptjAspire.TritonClient.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>The edges of the sampling parameters: temperatures too small to divide by, and values that are not numbers.</summary>
public class SamplingBoundaryTests
{
    // Logits of a realistic spread: a positive maximum, so dividing by a tiny temperature overflows to +inf.
    private static float[] Logits() => [3.5f, -2f, 7.25f, 0.5f, 7f, -9f, 1f, 2f];

    private const int ArgMax = 2;

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-40f)] // subnormal
    [InlineData(float.Epsilon)]
    [InlineData(1e-6f)]
    [InlineData(9.9e-6f)]
    public void Temperature_below_the_greedy_epsilon_picks_the_arg_max_with_a_finite_log_probability(float temperature)
    {
        var sampler = new Sampler(new SamplingParameters(TopK: 50, TopP: 0.9f, Temperature: temperature, Seed: 1), [], 1, 0);

        var chosen = sampler.Next(Logits(), [0, 1]);

        Assert.Equal(ArgMax, chosen.TokenId);
        Assert.True(float.IsFinite(chosen.LogProb), $"log-probability {chosen.LogProb}");
    }

    [Fact]
    public void Temperature_at_the_greedy_epsilon_still_samples_and_stays_finite()
    {
        var parameters = new SamplingParameters(Temperature: GenerationContract.GreedyTemperatureBelow, Seed: 3);
        var logits = Logits();

        var chosen = new Sampler(parameters, [], 3, 0).Next(logits, [0]);

        Assert.False(parameters.IsGreedy);
        Assert.All(logits, l => Assert.False(float.IsNaN(l)));
        Assert.Equal(ArgMax, chosen.TokenId); // 0.25 apart at T = 1e-5: the runner-up has probability e^-25000
    }

    [Theory]
    [InlineData(float.NaN, 1f, 1f, "Sampling.Temperature")]
    [InlineData(float.PositiveInfinity, 1f, 1f, "Sampling.Temperature")]
    [InlineData(-0.5f, 1f, 1f, "Sampling.Temperature")]
    [InlineData(float.NegativeInfinity, 1f, 1f, "Sampling.Temperature")]
    [InlineData(1f, float.NaN, 1f, "Sampling.TopP")]
    [InlineData(1f, float.PositiveInfinity, 1f, "Sampling.TopP")]
    [InlineData(1f, -0.1f, 1f, "Sampling.TopP")]
    [InlineData(1f, 1f, float.NaN, "Sampling.RepetitionPenalty")]
    [InlineData(1f, 1f, float.PositiveInfinity, "Sampling.RepetitionPenalty")]
    [InlineData(1f, 1f, -1f, "Sampling.RepetitionPenalty")]
    [InlineData(1f, 1f, 0f, "Sampling.RepetitionPenalty")]
    [InlineData(1f, 1f, 1e-40f, "Sampling.RepetitionPenalty")]
    [InlineData(1f, 1f, 0.009f, "Sampling.RepetitionPenalty")]
    public void Parameter_that_is_not_a_usable_number_is_rejected_by_name(float temperature, float topP, float penalty, string name)
    {
        var parameters = new SamplingParameters(TopP: topP, Temperature: temperature, RepetitionPenalty: penalty);

        var error = Assert.Throws<InvalidGenerationRequestException>(() => new Sampler(parameters, [], 1, 0));

        Assert.Equal(name, error.Field);
    }

    [Fact]
    public void Smallest_repetition_penalty_with_the_smallest_sampling_temperature_stays_finite()
    {
        var parameters = new SamplingParameters(Temperature: GenerationContract.GreedyTemperatureBelow,
            RepetitionPenalty: GenerationContract.MinRepetitionPenalty, Seed: 5);
        var logits = Logits();

        var chosen = new Sampler(parameters, [], 5, 0).Next(logits, [2, 4]);

        Assert.True(float.IsFinite(chosen.LogProb), $"log-probability {chosen.LogProb}");
        Assert.Contains(chosen.TokenId, new[] { 2, 4 }); // the penalty below 1 favours the context's tokens
    }
}
