using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary><see cref="Kernels.AddMatMuls"/> (the attention output projection and fc_out added to the residual): each
/// product computed alone and added row by row, against double precision.</summary>
public sealed unsafe class AddMatMulsTests
{
    // One pass of rows, several passes and several blocks of rows kept in L2; depths short and long; widths below one
    // panel, one panel and a part, and many.
    public static TheoryData<WeightType, int, int, int, int> Cases()
    {
        var cases = new TheoryData<WeightType, int, int, int, int>();
        foreach (var type in new[] { WeightType.F32, WeightType.F16, WeightType.BF16 })
            foreach (var rows in new[] { 3, 130, 200 })
                foreach (var (n, ka, kb) in new[] { (5, 37, 64), (30, 64, 300), (250, 256, 531), (13, 1029, 300) })
                    cases.Add(type, rows, n, ka, kb);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Both_products_and_the_bias_are_added_to_what_the_output_holds(WeightType type, int rows, int n, int ka, int kb) =>
        AssertBothProductsAdded(type, rows, n, ka, kb, (_, _) => { });

    // f16 rows holding a subnormal half are stored times 2^10 with a row scale of 2^-10 (Matrix.Scales), in different rows
    // of the two matrices: where both products share one set of sums, the first product's sums are brought to the second's
    // scales before the second is added.
    [Theory]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(130)]
    public void Rows_rescaled_for_subnormals_in_either_matrix_are_added_at_their_own_scale(int rows) =>
        AssertBothProductsAdded(WeightType.F16, rows, 70, 64, 300, (sourceA, sourceB) =>
        {
            for (var o = 0; o < 70; o += 2) sourceA[o * 64 + 5] = 3e-6f;
            for (var o = 0; o < 70; o += 3) sourceB[o * 300 + 7] = -2e-6f;
        });

    private static void AssertBothProductsAdded(WeightType type, int rows, int n, int ka, int kb, Action<float[], float[]> editSources)
    {
        var random = new Random(rows * 7919 + n * 31 + ka + kb);
        float[] Random(int length, double scale) => Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        float[] sourceA = Random(n * ka, 1), sourceB = Random(n * kb, 1), a = Random(rows * ka, 2), b = Random(rows * kb, 2), bias = Random(n, 1);
        var residual = Random(rows * n, 3);
        editSources(sourceA, sourceB);
        var pins = new[] { GCHandle.Alloc(sourceA, GCHandleType.Pinned), GCHandle.Alloc(sourceB, GCHandleType.Pinned) };
        try
        {
            using var wa = Matrix.Load(new CheckpointTensor("wa", "F32", [n, ka], pins[0].AddrOfPinnedObject()), n, ka, type);
            using var wb = Matrix.Load(new CheckpointTensor("wb", "F32", [n, kb], pins[1].AddrOfPinnedObject()), n, kb, type);
            if (type == WeightType.F16) Assert.Equal(sourceA.Any(v => v != 0 && Math.Abs(v) < 6.1e-5f), wa.Scales != null);
            // Longer than the product, as the forward pass's rented buffers are: what lies past it stays untouched.
            var y = residual.Concat([float.NaN, float.NaN]).ToArray();

            Kernels.AddMatMuls(y, rows, a, wa, b, wb, bias);

            var (rowA, rowB) = (new float[ka], new float[kb]);
            for (var o = 0; o < n; o++)
            {
                wa.RowToFloat(o, rowA);
                wb.RowToFloat(o, rowB);
                for (var r = 0; r < rows; r++)
                {
                    double expected = residual[r * n + o] + bias[o], magnitude = Math.Abs(residual[r * n + o]) + Math.Abs(bias[o]);
                    for (var i = 0; i < ka; i++) (expected, magnitude) = (expected + (double)rowA[i] * a[r * ka + i], magnitude + Math.Abs((double)rowA[i] * a[r * ka + i]));
                    for (var i = 0; i < kb; i++) (expected, magnitude) = (expected + (double)rowB[i] * b[r * kb + i], magnitude + Math.Abs((double)rowB[i] * b[r * kb + i]));
                    Assert.True(Math.Abs(y[r * n + o] - expected) <= 1e-5 * magnitude,
                        $"{type} rows={rows} [{n}x({ka}+{kb})]: y[{r}, {o}] = {y[r * n + o]}, expected {expected}");
                }
            }
            Assert.All(y[(rows * n)..], v => Assert.True(float.IsNaN(v)));
        }
        finally
        {
            foreach (var pin in pins) pin.Free();
        }
    }

    [Fact]
    public void Each_product_is_computed_alone_and_added_in_order()
    {
        const int rows = 3, n = 20, ka = 40, kb = 70;
        var random = new Random(11);
        float[] Random(int length) => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] sourceA = Random(n * ka), sourceB = Random(n * kb), a = Random(rows * ka), b = Random(rows * kb), bias = Random(n), y = Random(rows * n);
        var pins = new[] { GCHandle.Alloc(sourceA, GCHandleType.Pinned), GCHandle.Alloc(sourceB, GCHandleType.Pinned) };
        try
        {
            using var wa = Matrix.Load(new CheckpointTensor("wa", "F32", [n, ka], pins[0].AddrOfPinnedObject()), n, ka, WeightType.F16);
            using var wb = Matrix.Load(new CheckpointTensor("wb", "F32", [n, kb], pins[1].AddrOfPinnedObject()), n, kb, WeightType.Int8);
            float[] first = new float[rows * n], second = new float[rows * n], expected = (float[])y.Clone();
            Kernels.MatMul(a, rows, wa, null, first);
            Kernels.MatMul(b, rows, wb, bias, second);
            for (var i = 0; i < expected.Length; i++) expected[i] = expected[i] + first[i] + second[i];

            Kernels.AddMatMuls(y, rows, a, wa, b, wb, bias);

            Assert.Equal(expected, y);
            using var narrow = Matrix.Load(new CheckpointTensor("wb", "F32", [n - 1, kb], pins[1].AddrOfPinnedObject()), n - 1, kb, WeightType.F16);
            Assert.Throws<ArgumentException>(() => Kernels.AddMatMuls(y, rows, a, wa, b, narrow, bias));
        }
        finally
        {
            foreach (var pin in pins) pin.Free();
        }
    }
}
