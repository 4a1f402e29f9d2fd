using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The forward pass's per-element kernels (gelu_new, layer norm, rotary) against their definitions in double
/// precision, on lengths that reach every vector width's loop and the scalar tail.</summary>
public sealed class ElementwiseKernelsTests
{
    public static TheoryData<int> Lengths() => [1, 7, 8, 15, 16, 17, 31, 40, 64, 1000, 4096];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void GeluNew_matches_the_tanh_definition(int length)
    {
        var x = Values(length, 1, spread: 12);
        var y = (float[])x.Clone();
        Kernels.GeluNew(y);
        for (var i = 0; i < length; i++)
        {
            double v = x[i], u = Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v), expected = 0.5 * v * (1 + Math.Tanh(u));
            // Float rounding of u is multiplied by |2u| in e^(-2u), which decides the result where x is negative.
            Assert.True(Math.Abs(y[i] - expected) <= 3e-7 * (1 + 2 * Math.Abs(u)) * Math.Abs(expected) + 1e-37, $"gelu_new({v}) = {y[i]}, expected {expected}");
        }
    }

    [Fact]
    public void GeluNew_keeps_the_limits_of_the_definition_at_extreme_inputs()
    {
        // 16 + 8 + 1 elements: every vector path and the tail see each value.
        float[] inputs = [float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e20f, -1e20f, 200f, -200f, 1e-40f, -1e-40f, 0f, float.NaN];
        foreach (var input in inputs)
        {
            var y = Enumerable.Repeat(input, 25).ToArray();
            Kernels.GeluNew(y);
            var expected = input switch
            {
                float.NegativeInfinity or float.NaN => float.NaN, // -inf · 0 and NaN, as torch gives
                > 10 => input,
                < -10 => -0f,
                _ => input * 0.5f, // zero and subnormals: gelu(x) = x / 2 to first order
            };
            Assert.All(y, value => Assert.Equal(expected, value));
        }
    }

    // The forward pass writes GELU's output times the f16 activation scale (2^48) for fc_out: exactly the result times the
    // scale, -0 kept at the negative extreme, where scaling the input first would give -inf / inf.
    [Theory]
    [MemberData(nameof(Lengths))]
    public void GeluNew_with_an_output_scale_is_the_result_times_the_scale(int length)
    {
        var scale = Kernels.F16.ActivationScale;
        var x = Values(length, 2, spread: 12).Concat([-1e30f, 1e20f, -200f]).ToArray();
        var expected = (float[])x.Clone();
        Kernels.GeluNew(expected);
        var y = (float[])x.Clone();
        Kernels.GeluNew(y, scale);
        for (var i = 0; i < x.Length; i++) Assert.Equal(expected[i] * scale, y[i]);
        Assert.True(float.IsNegative(y[^3]) && y[^3] == 0, $"gelu_new(-1e30) times 2^48 = {y[^3]}, expected -0");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Exp_matches_double_precision_over_the_float_range(int length)
    {
        // -87 to 87: the whole range where e^x is a normal float, so every 2^n the kernel builds is met.
        var x = Values(length, 5, spread: 174);
        var y = (float[])x.Clone();
        Kernels.Exp(y);
        for (var i = 0; i < length; i++)
        {
            var expected = Math.Exp(x[i]);
            Assert.True(Math.Abs(y[i] - expected) <= 3e-7 * expected, $"exp({x[i]}) = {y[i]}, expected {expected}");
        }
    }

    [Fact]
    public void Exp_keeps_the_limits_and_NaN()
    {
        // 16 + 8 + 1 elements: every vector path and the tail see each value.
        (float Input, float Expected)[] cases =
        [
            (0f, 1f), (float.NegativeInfinity, 0f), (-1000f, 0f), (float.PositiveInfinity, float.PositiveInfinity),
            (1000f, float.PositiveInfinity), (float.NaN, float.NaN),
        ];
        foreach (var (input, expected) in cases)
        {
            var y = Enumerable.Repeat(input, 25).ToArray();
            Kernels.Exp(y);
            Assert.All(y, value => Assert.Equal(expected, value));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LayerNorm_matches_the_two_pass_definition(int length)
    {
        // Values far from zero: a one-pass variance (E[x^2] - mean^2) would lose most of its digits here.
        var x = Values(length, 2, spread: 2).Select(v => v + 1000f).ToArray();
        var (weight, bias) = (Values(length, 3, spread: 2), Values(length, 4, spread: 1));
        var y = new float[length];
        Kernels.LayerNorm(x, weight, bias, 1e-5f, y);
        double mean = x.Average(v => (double)v), variance = x.Average(v => ((double)v - mean) * ((double)v - mean));
        for (var i = 0; i < length; i++)
        {
            var expected = (x[i] - mean) / Math.Sqrt(variance + 1e-5) * weight[i] + bias[i];
            Assert.Equal(expected, y[i], 2e-3 * Math.Abs(weight[i]) + 1e-5);
        }
    }

    [Theory]
    [InlineData(4, 16, 16)]    // every head fully rotated, two vectors of eight
    [InlineData(3, 24, 10)]    // one vector and a tail of one pair
    [InlineData(2, 64, 64)]    // the mid-size benchmark model
    [InlineData(2, 256, 64)]   // GPT-J 6B: the first quarter of each head turns
    public void Rotary_turns_each_pair_of_the_first_rotary_dim_features_by_its_angle(int heads, int headDim, int rotaryDim)
    {
        var config = new GptjConfig(VocabSize: 16, ContextLength: 300, EmbeddingSize: heads * headDim, LayerCount: 1, HeadCount: heads,
            RotaryDim: rotaryDim, InnerSize: 4, LayerNormEpsilon: 1e-5f, BosTokenId: 0, EosTokenId: 0);
        var rotary = new Rotary(config);
        foreach (var position in new[] { 0, 1, 37, 299 })
        {
            var x = Values(heads * headDim, position + 5, spread: 4);
            var y = (float[])x.Clone();
            rotary.Apply(y, position);
            for (var h = 0; h < heads; h++)
                for (var f = 0; f < headDim; f++)
                {
                    int at = h * headDim + f, pair = at - f % 2;
                    if (f >= rotaryDim)
                    {
                        Assert.Equal(x[at], y[at]);
                        continue;
                    }
                    var angle = position * Math.Pow(10000, -(double)(f - f % 2) / rotaryDim);
                    var expected = f % 2 == 0
                        ? x[pair] * Math.Cos(angle) - x[pair + 1] * Math.Sin(angle)
                        : x[pair + 1] * Math.Cos(angle) + x[pair] * Math.Sin(angle);
                    Assert.Equal(expected, y[at], 1e-5);
                }
        }
    }

    private static float[] Values(int length, int seed, float spread)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.5) * spread)).ToArray();
    }
}
