using System.Diagnostics;
using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>The engine's matrix kernel on a batch of rows with its weights in cache: the multiply-add ceiling of a batched decode step.</summary>
/// <remarks>A decode step over 10 sequences does 10 multiply-adds per weight, so with f16 or int8 weights it is
/// bound by arithmetic, not memory. This rate, measured in the same run, is the compute roofline for it.</remarks>
internal static unsafe class KernelRate
{
    public static double MultiplyAddsPerSecond(WeightType storage, int rows)
    {
        // 128 x 1024 weights a core: 512 KB of f32 each, about a core's L2, and enough work per call (2.6 M
        // multiply-adds at 10 rows on 2 cores) for the thread hand-off to cost what it costs in a real step; whole
        // bands for every storage type, so no core waits for another. A fixed 256 rows measured 16 cores handing
        // off more than computing: ten-sequence steps then read 310-378% of this "ceiling".
        const int k = 1024, calls = 300;
        var n = 128 * Math.Max(2, Environment.ProcessorCount);
        var random = new Random(0);
        var source = new float[n * k];
        for (var i = 0; i < source.Length; i++) source[i] = (float)(random.NextDouble() - 0.5);
        var x = new float[rows * k];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() - 0.5);
        var y = new float[rows * n];

        var pinned = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            using var w = Matrix.Load(new CheckpointTensor("w", "F32", [n, k], pinned.AddrOfPinnedObject()), n, k, storage);
            for (var i = 0; i < calls; i++) Kernels.MatMul(x, rows, w, null, y);
            var times = new List<double>();
            for (var r = 0; r < 7; r++)
            {
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < calls; i++) Kernels.MatMul(x, rows, w, null, y);
                times.Add(clock.Elapsed.TotalSeconds);
            }
            return (double)calls * rows * n * k / MemoryBandwidth.Median(times);
        }
        finally
        {
            pinned.Free();
        }
    }
}
