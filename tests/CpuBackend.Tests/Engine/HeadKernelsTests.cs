using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Attention's per-head dot product and scaled add against double precision, on every length a vector loop and
/// its tail can meet (GPT-J heads are 64 or 256 features; the test models' are shorter).</summary>
public sealed class HeadKernelsTests
{
    public static TheoryData<int> Lengths() => [0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 64, 100, 256];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Dot_matches_double_precision(int length)
    {
        var (a, b) = (Values(length, 1), Values(length, 2));
        var (expected, magnitude) = Sum(Enumerable.Range(0, length).Select(i => (double)a[i] * b[i]));
        Assert.Equal(expected, HeadKernels.Dot(a, b), 1e-6 * (1 + magnitude));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AddScaled_adds_the_scaled_source_to_every_element_and_nothing_past_the_head(int length)
    {
        var (source, start) = (Values(length, 3), Values(length + 1, 4));
        var target = (float[])start.Clone();
        HeadKernels.AddScaled(source, -0.37f, target.AsSpan(0, length));
        for (var i = 0; i < length; i++) Assert.Equal(start[i] + -0.37 * source[i], target[i], 1e-6);
        Assert.Equal(start[length], target[length]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Dot_with_an_f16_key_matches_double_precision_subnormal_halves_included(int length)
    {
        var (query, key) = (Values(length, 5), Halves(length, 6));
        var (expected, magnitude) = Sum(Enumerable.Range(0, length).Select(i => (double)query[i] * (double)key[i]));
        var scaled = query.Select(v => v * HeadKernels.HalfQueryScale).ToArray();

        Assert.Equal(expected, HeadKernels.DotWithHalves(scaled, key), 1e-6 * (1 + magnitude));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AddScaled_with_an_f16_value_adds_the_scaled_halves_and_nothing_past_the_head(int length)
    {
        var (source, start) = (Halves(length, 7), Values(length + 1, 8));
        var target = (float[])start.Clone();

        HeadKernels.AddScaledHalves(source, 0.37f, target.AsSpan(0, length));

        for (var i = 0; i < length; i++) Assert.Equal(start[i] + 0.37 * (double)source[i], target[i], 1e-6);
        Assert.Equal(start[length], target[length]);
        Assert.Throws<ArgumentOutOfRangeException>(() => HeadKernels.AddScaledHalves(source, 1e5f, target.AsSpan(0, length)));
    }

    [Fact]
    public void Vectors_of_different_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => HeadKernels.Dot(new float[8], new float[9]));
        Assert.Throws<ArgumentException>(() => HeadKernels.AddScaled(new float[9], 1f, new float[8]));
    }

    /// <summary>A dot product's terms summed in double precision, and the sum of their magnitudes (what the error of a float
    /// sum in another order grows with).</summary>
    private static (double Sum, double Magnitude) Sum(IEnumerable<double> terms)
    {
        double sum = 0, magnitude = 0;
        foreach (var term in terms) (sum, magnitude) = (sum + term, magnitude + Math.Abs(term));
        return (sum, magnitude);
    }

    /// <summary>Halves as an f16 cache holds them, every fifth one a subnormal (below 2^-14) and one a negative zero.</summary>
    private static Half[] Halves(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(i => i == 3 ? (Half)(-0f)
            : (Half)(i % 5 == 0 ? (random.NextDouble() - 0.5) * 1e-4 : random.NextDouble() * 4 - 2)).ToArray();
    }

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }
}
