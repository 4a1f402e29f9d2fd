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
        double expected = 0, magnitude = 0;
        for (var i = 0; i < length; i++)
        {
            expected += (double)a[i] * b[i];
            magnitude += Math.Abs((double)a[i] * b[i]);
        }
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

    [Fact]
    public void Vectors_of_different_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => HeadKernels.Dot(new float[8], new float[9]));
        Assert.Throws<ArgumentException>(() => HeadKernels.AddScaled(new float[9], 1f, new float[8]));
    }

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }
}
