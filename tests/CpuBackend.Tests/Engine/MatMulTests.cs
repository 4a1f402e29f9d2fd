using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary><see cref="Kernels.MatMul"/> against a double-precision product of the same stored weights, for every kernel shape.</summary>
public sealed unsafe class MatMulTests
{
    /// <summary>Set by IsaSwitchTests to the vector width (512 or 256) its switch leaves.</summary>
    internal const string ExpectedWidthVariable = "GPTJ_EXPECTED_VECTOR_WIDTH";

    // With AVX-512 the panel kernels (passes of up to ten activation rows over a panel of 32 weight rows) run on 512-bit
    // vectors, and the cases below test those; IsaSwitchTests reruns them with AVX-512 off, where 256-bit passes of one or
    // two rows cover whole panels and of three to five rows half panels (a padded half skipped), and with AVX2 off, where
    // the scalar kernel runs.
    [Fact]
    public void Kernels_use_512_bit_vectors_exactly_where_the_cpu_and_its_switches_allow()
    {
        var expected = Environment.GetEnvironmentVariable(ExpectedWidthVariable) is { } width
            ? width == "512"
            : System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        Assert.Equal(expected, Kernels.Wide);
    }

    // Row counts cover one-row decode, passes of each size (2-10 rows with AVX-512, a last pass of one row with AVX2),
    // several passes, and more than one block of rows kept in L2 (130 rows of 1027 columns: blocks of 120). Matrix
    // shapes cover a last panel that is mostly padding (9 and 33 outputs), long and short depths with odd tails, and a
    // product big enough to be split across threads; int8 covers the integer kernels' blocks of five and four-row decode.
    public static TheoryData<WeightType, int, int, int> Cases()
    {
        var cases = new TheoryData<WeightType, int, int, int>();
        foreach (var type in Enum.GetValues<WeightType>())
            foreach (var rows in new[] { 1, 2, 3, 4, 5, 6, 10, 11, 17, 23, 40, 64, 130 })
                foreach (var (n, k) in new[] { (9, 1027), (33, 37), (2050, 64) })
                    cases.Add(type, rows, n, k);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Product_matches_double_precision_reference(WeightType type, int rows, int n, int k) =>
        AssertMatchesDoublePrecision(type, rows, n, k, (x, count, w, bias, y) => Kernels.MatMul(x, count, w, bias, y));

    // One parallel loop over the bands of several products of one input (GptjModel's q, k, v and fc_in): every output
    // equals that product alone, bit for bit, on each path (the panel kernels at one and several passes, the integer kernels).
    public static TheoryData<WeightType, int> FusedCases()
    {
        var cases = new TheoryData<WeightType, int>();
        foreach (var type in Enum.GetValues<WeightType>())
            foreach (var rows in new[] { 1, 3, 10, 130 })
                cases.Add(type, rows);
        return cases;
    }

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void Products_of_one_input_in_one_loop_equal_each_product_alone(WeightType type, int rows)
    {
        const int k = 200;
        var random = new Random(rows);
        var x = Enumerable.Range(0, rows * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var pins = new List<GCHandle>();
        var matrices = new[] { 37, 300, 5 }.Select(n => Load(n, k, type, random, pins)).ToArray();
        try
        {
            float[]?[] biases = [null, Enumerable.Range(0, 300).Select(i => i * 0.01f).ToArray(), null];
            // Outputs longer than the product (rented buffers are): what lies past it stays untouched.
            var fused = matrices.Select(m => Enumerable.Repeat(float.NaN, rows * m.Rows + 3).ToArray()).ToArray();
            Kernels.MatMul(x, rows, [new(matrices[0], biases[0], fused[0]), new(matrices[1], biases[1], fused[1]), new(matrices[2], biases[2], fused[2])]);
            for (var p = 0; p < matrices.Length; p++)
            {
                var alone = new float[rows * matrices[p].Rows];
                Kernels.MatMul(x, rows, matrices[p], biases[p], alone);
                Assert.Equal(alone, fused[p][..alone.Length]);
                Assert.All(fused[p][alone.Length..], v => Assert.True(float.IsNaN(v)));
            }
        }
        finally
        {
            foreach (var m in matrices) m.Dispose();
            foreach (var pin in pins) pin.Free();
        }
    }

    [Fact]
    public void Products_of_one_input_with_weights_of_different_types_each_run_their_own_path()
    {
        const int k = 64;
        var random = new Random(7);
        var x = Enumerable.Range(0, 2 * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var pins = new List<GCHandle>();
        using var f16 = Load(20, k, WeightType.F16, random, pins);
        using var int8 = Load(30, k, WeightType.Int8, random, pins);
        float[] a = new float[40], b = new float[60], aloneA = new float[40], aloneB = new float[60];

        Kernels.MatMul(x, 2, [new(f16, null, a), new(int8, null, b)]);
        Kernels.MatMul(x, 2, f16, null, aloneA);
        Kernels.MatMul(x, 2, int8, null, aloneB);

        Assert.Equal(aloneA, a);
        Assert.Equal(aloneB, b);
        using var narrow = Load(4, k - 1, WeightType.F16, random, pins);
        Assert.Throws<ArgumentException>(() => Kernels.MatMul(x, 2, [new(f16, null, a), new(narrow, null, new float[8])]));
        foreach (var pin in pins) pin.Free();
    }

    /// <summary>A random [n, k] matrix stored as <paramref name="type"/>; its f32 source stays pinned (an f32 matrix is
    /// the source's own memory) until <paramref name="pins"/> are freed.</summary>
    internal static Matrix Load(int n, int k, WeightType type, Random random, List<GCHandle> pins)
    {
        var source = Enumerable.Range(0, n * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        pins.Add(handle);
        return Matrix.Load(new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject()), n, k, type);
    }

    // F16 weights are loaded times 2^-112 and the activations and sums carry the factor back (Kernels.F16), and rows with
    // half subnormals are stored times 2^10 (Matrix.Scales): the products must stay exact for half subnormals, for
    // activations far above and below 1, and on every kernel shape.
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(40)]
    [InlineData(200)]
    public void F16_products_stay_exact_for_subnormal_weights_and_extreme_activations(int rows)
    {
        const int n = 12, k = 100;
        var random = new Random(rows);
        // Half subnormals lie below 2^-14 (6.1e-5); the smallest is 2^-24.
        var source = new float[n * k];
        for (var i = 0; i < source.Length; i++)
            source[i] = (float)((random.NextDouble() * 2 - 1) * (i % 3 == 0 ? 6e-5 : i % 3 == 1 ? 1e-7 : 1));
        var x = new float[rows * k];
        for (var r = 0; r < rows; r++)
        {
            var magnitude = r % 3 == 0 ? 1e22 : r % 3 == 1 ? 1e-10 : 1;
            for (var i = 0; i < k; i++) x[r * k + i] = (float)((random.NextDouble() * 2 - 1) * magnitude);
        }
        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            using var w = Matrix.Load(new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject()), n, k, WeightType.F16);
            var y = new float[rows * n];
            Kernels.MatMul(x, rows, w, null, y);
            var stored = new float[k];
            for (var o = 0; o < n; o++)
            {
                w.RowToFloat(o, stored);
                Assert.Contains(stored, v => v != 0 && Math.Abs(v) < 6.1e-5f);
                for (var r = 0; r < rows; r++)
                {
                    double expected = 0, magnitude = 0;
                    for (var i = 0; i < k; i++)
                    {
                        expected += (double)stored[i] * x[r * k + i];
                        magnitude += Math.Abs((double)stored[i] * x[r * k + i]);
                    }
                    Assert.True(Math.Abs(y[r * n + o] - expected) <= 1e-5 * magnitude,
                        $"rows={rows}: y[{r}, {o}] = {y[r * n + o]}, expected {expected}");
                }
            }
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Runs <paramref name="product"/> on random operands and checks every output against the double-precision
    /// product of the stored (converted) weights.</summary>
    internal delegate void Product(ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y);

    internal static void AssertMatchesDoublePrecision(WeightType type, int rows, int n, int k, Product product)
    {
        var random = new Random(rows * 1000 + n + k);
        var source = new float[n * k];
        for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() * 2 - 1);
        var x = new float[rows * k];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 4 - 2);
        var bias = new float[n];
        for (var i = 0; i < n; i++) bias[i] = (float)random.NextDouble();

        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            using var w = Matrix.Load(new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject()), n, k, type);
            var y = new float[rows * n];
            product(x, rows, w, bias, y);

            var stored = new float[k];
            for (var o = 0; o < n; o++)
            {
                w.RowToFloat(o, stored);
                for (var r = 0; r < rows; r++)
                {
                    double expected = bias[o], magnitude = Math.Abs(bias[o]), weights = 0, activationMax = 0;
                    for (var i = 0; i < k; i++)
                    {
                        expected += (double)stored[i] * x[r * k + i];
                        magnitude += Math.Abs((double)stored[i] * x[r * k + i]);
                        weights += Math.Abs(stored[i]);
                        activationMax = Math.Max(activationMax, Math.Abs(x[r * k + i]));
                    }
                    // float accumulation in a different order: error grows with the sum of |terms|. The integer
                    // int8 paths also round each activation to a multiple of max|x| / 127, by at most half of it.
                    var quantization = type == WeightType.Int8 && Int8Kernels.Best != Int8Path.Float ? weights * activationMax / 127 / 2 : 0;
                    Assert.True(Math.Abs(y[r * n + o] - expected) <= 1e-5 * magnitude + quantization,
                        $"{type} rows={rows} [{n}x{k}]: y[{r}, {o}] = {y[r * n + o]}, expected {expected}");
                }
            }
        }
        finally
        {
            handle.Free();
        }
    }
}
