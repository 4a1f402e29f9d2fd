using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Each integer int8 path this CPU has against an exact product of the same quantized weights and activations.</summary>
public sealed unsafe class Int8KernelTests
{
    /// <summary>Set by <see cref="IsaSwitchTests"/> in the child test run it starts with some instruction sets switched off.</summary>
    internal const string ExpectedPathVariable = "GPTJ_EXPECTED_INT8_PATH";

    // Paths the CPU lacks (or that DOTNET_Enable* switches off) have no cases here; IsaSwitchTests runs this class again with them off.
    public static TheoryData<Int8Path, int, int, int> Cases()
    {
        var cases = new TheoryData<Int8Path, int, int, int>();
        foreach (var path in new[] { Int8Path.Avx2, Int8Path.AvxVnni, Int8Path.Avx512Vnni }.Where(Int8Kernels.IsSupported))
            foreach (var rows in new[] { 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 16, 23, 30 })
                // Depths with and without a partial last chunk (32 elements; a partial group of four for the panels), one
                // shorter than a chunk, and a long one; outputs in one partial panel of 32, in whole ones, and past them.
                foreach (var (n, k) in new[] { (9, 1027), (33, 37), (2050, 64), (7, 160), (5, 2112), (64, 1026) })
                    cases.Add(path, rows, n, k);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Integer_product_equals_the_exact_product_of_the_quantized_operands(Int8Path path, int rows, int n, int k)
    {
        var random = new Random(rows * 1000 + n + k);
        var source = new float[n * k];
        for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() * 2 - 1);
        var x = new float[rows * k];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 4 - 2);
        // An all-zero activation row (its scale is 0) must give the bias alone.
        if (rows > 2) x.AsSpan(k, k).Clear();
        var bias = new float[n];
        for (var i = 0; i < n; i++) bias[i] = (float)random.NextDouble();

        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            using var w = Matrix.Load(new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject()), n, k, WeightType.Int8,
                int8Panels: path == Int8Path.Avx512Vnni);
            var y = new float[rows * n];
            Int8Kernels.MatMul(path, x, rows, w, bias, y);

            for (var r = 0; r < rows; r++)
            {
                // The documented quantization: scale = max|x| / 127, q = round(x · 127 / max|x|) (to even).
                var row = x.AsSpan(r * k, k);
                var max = 0f;
                foreach (var v in row) max = Math.Max(max, Math.Abs(v));
                var q = new int[k];
                for (var i = 0; i < k; i++) q[i] = max == 0 ? 0 : (int)MathF.Round(row[i] * (127f / max));
                for (var o = 0; o < n; o++)
                {
                    long dot = 0;
                    for (var i = 0; i < k; i++) dot += w.Int8At(o, i) * q[i];
                    double scaled = dot * (double)w.Scales[o] * (max / 127f), expected = scaled + bias[o];
                    // The integer sum is exact; only the final float scaling and bias add round.
                    Assert.True(Math.Abs(y[r * n + o] - expected) <= 1e-6 * (Math.Abs(scaled) + Math.Abs(bias[o])),
                        $"{path} rows={rows} [{n}x{k}]: y[{r}, {o}] = {y[r * n + o]}, expected {expected}");
                }
            }
        }
        finally
        {
            handle.Free();
        }
    }

    // Panels are a layout of the same quantized rows: every integer and scale as row by row, and an embedding lookup
    // (RowToFloat) gives the same floats; the padding past the last row and depth is never read back.
    [Theory]
    [InlineData(9, 1027)]
    [InlineData(64, 37)]
    [InlineData(33, 4)]
    public void Panels_hold_the_integers_and_scales_of_the_rows(int n, int k)
    {
        var random = new Random(n * k);
        var source = new float[n * k];
        for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() * 2 - 1);
        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            var tensor = new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject());
            using var rows = Matrix.Load(tensor, n, k, WeightType.Int8, int8Panels: false);
            using var panels = Matrix.Load(tensor, n, k, WeightType.Int8, int8Panels: true);
            Assert.True(panels.Int8Panels);
            Assert.Equal((n + 31) / 32 * 32 * ((k + 3) / 4 * 4), panels.StoredRows * panels.RowBytes);
            for (var o = 0; o < n; o++)
            {
                Assert.Equal(rows.Scales[o], panels.Scales[o]);
                for (var i = 0; i < k; i++) Assert.Equal(rows.Int8At(o, i), panels.Int8At(o, i));
                float[] expected = new float[k], actual = new float[k];
                rows.RowToFloat(o, expected);
                panels.RowToFloat(o, actual);
                Assert.Equal(expected, actual);
            }
        }
        finally
        {
            handle.Free();
        }
    }

    [Fact]
    public void A_path_refuses_weights_in_the_other_layout_naming_the_one_it_reads()
    {
        var source = new float[64 * 40];
        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            var tensor = new CheckpointTensor("w", "F32", [64, 40], handle.AddrOfPinnedObject());
            using var rows = Matrix.Load(tensor, 64, 40, WeightType.Int8, int8Panels: false);
            using var panels = Matrix.Load(tensor, 64, 40, WeightType.Int8, int8Panels: true);
            var y = new float[64];
            if (Int8Kernels.IsSupported(Int8Path.Avx512Vnni))
                Assert.Contains("in panels", Assert.Throws<ArgumentException>(() => Int8Kernels.MatMul(Int8Path.Avx512Vnni, new float[40], 1, rows, null, y)).Message);
            if (Int8Kernels.BestForRows != Int8Path.Float)
                Assert.Contains("row by row", Assert.Throws<ArgumentException>(() => Int8Kernels.MatMul(Int8Kernels.BestForRows, new float[40], 1, panels, null, y)).Message);
            Assert.Contains("row by row", Assert.Throws<ArgumentException>(() => Kernels.WidenedInt8MatMul(new float[40], 1, panels, null, y)).Message);
        }
        finally
        {
            handle.Free();
        }
    }

    [Fact]
    public void Best_is_the_fastest_path_the_cpu_and_its_switches_allow()
    {
        var expected = Environment.GetEnvironmentVariable(ExpectedPathVariable) is { } name
            ? Enum.Parse<Int8Path>(name)
            : Avx512Vnni() ? Int8Path.Avx512Vnni
            : AvxVnni.IsSupported ? Int8Path.AvxVnni : Avx2.IsSupported ? Int8Path.Avx2 : Int8Path.Float;
        Assert.Equal(expected, Int8Kernels.Best);
    }

    /// <summary>AVX512-VNNI from CPUID (leaf 7, ECX bit 11), with AVX-512 and AVX-VNNI enabled for .NET, on Linux x86-64.</summary>
    private static bool Avx512Vnni() =>
        OperatingSystem.IsLinux() && Avx512F.IsSupported && AvxVnni.IsSupported && (X86Base.CpuId(7, 0).Ecx & 1 << 11) != 0;
}
