using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>This machine's memory copy bandwidth (STREAM convention: bytes read + bytes written per second), all cores copying.</summary>
internal static unsafe class CopyBandwidth
{
    public static double MeasureBytesPerSecond(long bytes = 512L << 20, int repeats = 7)
    {
        var source = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        var target = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            NativeMemory.Fill(source, (nuint)bytes, 1);
            NativeMemory.Fill(target, (nuint)bytes, 2);
            var threads = Environment.ProcessorCount;
            var part = bytes / threads;
            var times = new List<double>();
            for (var r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, t => Buffer.MemoryCopy(source + t * part, target + t * part, part, part));
                times.Add(clock.Elapsed.TotalSeconds);
            }
            return 2.0 * part * threads / Median(times);
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
