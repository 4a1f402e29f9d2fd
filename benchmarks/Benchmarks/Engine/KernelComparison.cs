using System.Diagnostics;
using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>The int8 matrix products of a whole mid-size decode step (8 layers of q, k, v, out, fc_in, fc_out, read from
/// memory as in a real step) on each kernel this CPU has, interleaved round by round: weights widened against f32
/// activations (the path of CPUs without AVX2) against the integer kernels.</summary>
/// <remarks>Ratios are medians of per-round ratios, so drift of a shared machine between rounds does not enter them.</remarks>
internal static unsafe class KernelComparison
{
    private delegate void Product(ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y);

    /// <summary>A kernel by name, the int8 layout it reads (<see cref="Matrix.Int8Panels"/>), and its product.</summary>
    private sealed record Kernel(string Name, bool Int8Panels, Product Run);

    public static void Run()
    {
        var int8 = new List<Kernel> { new("Float", false, Kernels.WidenedInt8MatMul) };
        foreach (var path in new[] { Int8Path.Avx2, Int8Path.AvxVnni, Int8Path.Avx512Vnni }.Where(Int8Kernels.IsSupported))
            int8.Add(new(path.ToString(), path == Int8Path.Avx512Vnni, (x, rows, w, bias, y) => Int8Kernels.MatMul(path, x, rows, w, bias, y)));
        Compare(WeightType.Int8, int8, [1, 10, 200], $"best here {Int8Kernels.Best}");
    }

    private static void Compare(WeightType type, List<Kernel> kernels, int[] rowCounts, string note)
    {
        const int e = 1024, inner = 4096, layers = 8;
        // Each layer has its own copy, so a step reads 8 layers' worth from memory; in each layout a kernel reads.
        var layouts = kernels.Select(p => p.Int8Panels).Distinct().ToDictionary(panels => panels, _ => new List<Matrix>());
        try
        {
            foreach (var (n, k) in new[] { (e, e), (e, e), (e, e), (e, e), (inner, e), (e, inner) })
            {
                var random = new Random(n + k);
                for (var l = 0; l < layers; l++)
                {
                    var source = new float[n * k];
                    for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() - 0.5);
                    var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
                    try
                    {
                        foreach (var (panels, matrices) in layouts)
                            matrices.Add(Matrix.Load(new CheckpointTensor("w", "F32", [n, k], handle.AddrOfPinnedObject()), n, k, type, panels));
                    }
                    finally
                    {
                        handle.Free();
                    }
                }
            }
            var rowMatrices = layouts.First().Value;
            var multiplyAdds = rowMatrices.Sum(m => (long)m.Rows * m.Cols);
            var first = kernels[0].Name;
            Console.WriteLine($"{type} kernels, one decode step's matrices ({multiplyAdds / 1e6:F0} M weights, {rowMatrices.Sum(m => m.ByteCount) / 1e6:F0} MB), {string.Join(", ", kernels.Select(p => p.Name))}; {note}");
            foreach (var rows in rowCounts)
            {
                var rounds = rows == 1 ? 21 : rows <= 10 ? 11 : 3;
                var x = new float[rows * inner];
                var random = new Random(rows);
                for (var i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
                var y = new float[rows * inner];
                var times = kernels.ToDictionary(p => p.Name, _ => new List<double>());
                var ratios = kernels.ToDictionary(p => p.Name, _ => new List<double>());
                for (var round = -1; round < rounds; round++)
                {
                    var seconds = kernels.ToDictionary(p => p.Name, p => Pass(p.Run, layouts[p.Int8Panels], x, rows, y));
                    if (round < 0) continue; // warm-up
                    foreach (var name in kernels.Select(p => p.Name))
                    {
                        times[name].Add(seconds[name]);
                        ratios[name].Add(seconds[first] / seconds[name]);
                    }
                }
                Console.WriteLine($"  {rows,3} rows: " + string.Join("; ", kernels.Select(p =>
                {
                    var median = MemoryBandwidth.Median(times[p.Name]);
                    return $"{p.Name} {median * 1e3:F2} ms ({rows * multiplyAdds / median / 1e9:F1} G multiply-adds/s, {MemoryBandwidth.Median(ratios[p.Name]):F2}x {first})";
                })));
            }
        }
        finally
        {
            foreach (var m in layouts.Values.SelectMany(matrices => matrices)) m.Dispose();
        }
    }

    private static double Pass(Product product, List<Matrix> matrices, float[] x, int rows, float[] y)
    {
        var clock = Stopwatch.StartNew();
        foreach (var w in matrices) product(x.AsSpan(0, rows * w.Cols), rows, w, null, y.AsSpan(0, rows * w.Rows));
        return clock.Elapsed.TotalSeconds;
    }
}
