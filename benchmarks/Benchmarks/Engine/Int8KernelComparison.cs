using System.Diagnostics;
using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>Int8 matrix products of a whole mid-size decode step (8 layers of q, k, v, out, fc_in, fc_out: 101 MB, read from
/// memory as in a real step) on each path this CPU has, interleaved: the float kernels (int8 widened, f32 activations) and the integer ones.</summary>
/// <remarks>Ratios are medians of per-round ratios, so drift of a shared machine between rounds does not enter them.</remarks>
internal static unsafe class Int8KernelComparison
{
    public static void Run()
    {
        const int e = 1024, inner = 4096, layers = 8;
        var matrices = new List<Matrix>();
        foreach (var (n, k) in new[] { (e, e), (e, e), (e, e), (e, e), (inner, e), (e, inner) })
        {
            var random = new Random(n + k);
            var source = new float[n * k];
            for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() - 0.5);
            var pinned = GCHandle.Alloc(source, GCHandleType.Pinned);
            try
            {
                for (var l = 0; l < layers; l++)
                    matrices.Add(Matrix.Load(new CheckpointTensor("w", "F32", [n, k], pinned.AddrOfPinnedObject()), n, k, WeightType.Int8));
            }
            finally
            {
                pinned.Free();
            }
        }
        try
        {
            var paths = new[] { Int8Path.Float, Int8Path.Avx2, Int8Path.AvxVnni }.Where(Int8Kernels.IsSupported).ToArray();
            var multiplyAdds = matrices.Sum(m => (long)m.Rows * m.Cols);
            Console.WriteLine($"int8 kernels, one decode step's matrices ({multiplyAdds / 1e6:F0} M weights), paths {string.Join(", ", paths)}; best here {Int8Kernels.Best}");
            foreach (var (rows, rounds) in new[] { (1, 21), (10, 11), (200, 3) })
            {
                var x = new float[rows * inner];
                var random = new Random(rows);
                for (var i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
                var y = new float[rows * inner];
                var times = paths.ToDictionary(p => p, _ => new List<double>());
                var ratios = paths.ToDictionary(p => p, _ => new List<double>());
                for (var round = -1; round < rounds; round++)
                {
                    var seconds = paths.ToDictionary(p => p, p => Pass(p, matrices, x, rows, y));
                    if (round < 0) continue; // warm-up
                    foreach (var p in paths)
                    {
                        times[p].Add(seconds[p]);
                        ratios[p].Add(seconds[Int8Path.Float] / seconds[p]);
                    }
                }
                Console.WriteLine($"  {rows,3} rows: " + string.Join("; ", paths.Select(p =>
                {
                    var median = MemoryBandwidth.Median(times[p]);
                    return $"{p} {median * 1e3:F2} ms ({rows * multiplyAdds / median / 1e9:F1} G multiply-adds/s, {MemoryBandwidth.Median(ratios[p]):F2}x Float)";
                })));
            }
        }
        finally
        {
            foreach (var m in matrices) m.Dispose();
        }
    }

    private static double Pass(Int8Path path, List<Matrix> matrices, float[] x, int rows, float[] y)
    {
        var clock = Stopwatch.StartNew();
        foreach (var w in matrices)
        {
            var input = x.AsSpan(0, rows * w.Cols);
            var output = y.AsSpan(0, rows * w.Rows);
            if (path == Int8Path.Float) Kernels.FloatMatMul(input, rows, w, null, output);
            else Int8Kernels.MatMul(path, input, rows, w, null, output);
        }
        return clock.Elapsed.TotalSeconds;
    }
}
