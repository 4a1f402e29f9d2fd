using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Activations written times <see cref="Kernels.ActivationScale(Matrix)"/> and passed as scaled (what the forward
/// pass does): the products are bit for bit those of the unscaled activations, since the kernels would have applied the
/// same power of two themselves.</summary>
public sealed class ScaledInputTests : IDisposable
{
    private readonly Random random = new(7);
    private readonly List<GCHandle> pins = [];
    private readonly List<Matrix> loaded = [];

    public static TheoryData<WeightType, int> Cases()
    {
        var cases = new TheoryData<WeightType, int>();
        foreach (var type in new[] { WeightType.F32, WeightType.F16, WeightType.BF16, WeightType.Int8 })
            foreach (var rows in new[] { 1, 3, 10, 130 })
                cases.Add(type, rows);
        return cases;
    }

    [Fact]
    public void Only_f16_weights_take_their_activations_scaled()
    {
        Assert.Equal(281474976710656f, Kernels.ActivationScale(Load(4, 8, WeightType.F16))); // 2^48
        foreach (var type in new[] { WeightType.F32, WeightType.BF16, WeightType.Int8 })
            Assert.Equal(1f, Kernels.ActivationScale(Load(4, 8, type)));
        Assert.Equal(1f, Kernels.ActivationScale([Load(4, 8, WeightType.F16), Load(4, 8, WeightType.F32)]));
        Assert.Equal(281474976710656f, Kernels.ActivationScale([Load(4, 8, WeightType.F16), Load(4, 8, WeightType.F16)]));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Products_of_scaled_activations_equal_those_of_the_activations(WeightType type, int rows)
    {
        const int n = 70, k = 300;
        var w = Load(n, k, type);
        var x = Random(rows * k, rows);
        var bias = Random(n, 5);
        var expected = new float[rows * n];
        Kernels.MatMul(x, rows, w, bias, expected);

        var scaled = Scaled(x, Kernels.ActivationScale(w));
        var actual = new float[rows * n];
        Kernels.MatMul(scaled, rows, w, bias, actual, inputScaled: true);
        Assert.Equal(expected, actual);

        // The same through the several-products entry point the forward pass uses for q, k, v and fc_in.
        var second = new float[rows * n];
        Kernels.MatMul(scaled, rows, [new Product(w, bias, actual), new Product(w, null, second)], inputScaled: true);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Added_products_of_scaled_activations_equal_those_of_the_activations(WeightType type, int rows)
    {
        const int n = 70, ka = 64, kb = 300;
        Matrix wa = Load(n, ka, type), wb = Load(n, kb, type);
        float[] a = Random(rows * ka, rows), b = Random(rows * kb, rows + 1), bias = Random(n, 7), residual = Random(rows * n, 8);
        var expected = residual.ToArray();
        Kernels.AddMatMuls(expected, rows, a, wa, b, wb, bias);

        var actual = residual.ToArray();
        Kernels.AddMatMuls(actual, rows, Scaled(a, Kernels.ActivationScale(wa)), wa, Scaled(b, Kernels.ActivationScale(wb)), wb, bias, inputsScaled: true);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Scaled_activations_for_products_of_different_scales_are_refused()
    {
        Matrix f16 = Load(4, 8, WeightType.F16), f32 = Load(4, 8, WeightType.F32);
        var error = Assert.Throws<ArgumentException>(() =>
            Kernels.MatMul(new float[8], 1, [new Product(f16, null, new float[4]), new Product(f32, null, new float[4])], inputScaled: true));
        Assert.Contains("one scale", error.Message);
    }

    private static float[] Random(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    private static float[] Scaled(float[] values, float scale)
    {
        var scaled = new float[values.Length];
        TensorPrimitives.Multiply(values, scale, scaled);
        return scaled;
    }

    public void Dispose()
    {
        foreach (var matrix in loaded) matrix.Dispose();
        foreach (var pin in pins) pin.Free();
    }

    /// <summary>A random matrix (<see cref="MatMulTests.Load"/>), freed with its pinned source when the test ends.</summary>
    private Matrix Load(int n, int k, WeightType type)
    {
        var matrix = MatMulTests.Load(n, k, type, random, pins);
        loaded.Add(matrix);
        return matrix;
    }
}
