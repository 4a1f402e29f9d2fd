using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>This machine's memory bandwidth with all cores: copy (STREAM convention, bytes read + written per second) and read-only.</summary>
internal static unsafe class MemoryBandwidth
{
    private const long Bytes = 512L << 20;
    private const int Repeats = 7;

    public static double CopyBytesPerSecond() => Measure((source, target, part) => Buffer.MemoryCopy(source, target, part, part), 2);

    /// <summary>Summing a buffer: the access pattern of a decode step, which only streams weights in.</summary>
    public static double ReadBytesPerSecond() => Measure((source, _, part) =>
    {
        var p = (float*)source;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (long i = 0; i < part / 4; i += 32)
        {
            a0 += Vector256.Load(p + i);
            a1 += Vector256.Load(p + i + 8);
            a2 += Vector256.Load(p + i + 16);
            a3 += Vector256.Load(p + i + 24);
        }
        GC.KeepAlive(Vector256.Sum(a0 + a1 + a2 + a3));
    }, 1);

    private delegate void Pass(byte* source, byte* target, long bytes);

    private static double Measure(Pass pass, int bytesPerByteRead)
    {
        var source = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 4096);
        var target = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 4096);
        try
        {
            NativeMemory.Fill(source, (nuint)Bytes, 1);
            NativeMemory.Fill(target, (nuint)Bytes, 2);
            var threads = Environment.ProcessorCount;
            var part = Bytes / threads;
            var times = new List<double>();
            for (var r = 0; r < Repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, t => pass(source + t * part, target + t * part, part));
                times.Add(clock.Elapsed.TotalSeconds);
            }
            return (double)bytesPerByteRead * part * threads / Median(times);
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(target);
        }
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
