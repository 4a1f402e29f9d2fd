using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>This machine's memory bandwidth with all cores: copy (STREAM convention, bytes read + written per second) and read-only.</summary>
/// <remarks>On a shared machine bandwidth drifts by tens of percent within a minute, so a roofline fraction takes
/// one sample right before each timed decode step and reports the median of the per-step fractions.</remarks>
internal sealed unsafe class MemoryBandwidth : IDisposable
{
    private const long Bytes = 512L << 20;
    private readonly byte* source;
    private readonly byte* target;

    public MemoryBandwidth()
    {
        source = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 4096);
        target = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 4096);
        NativeMemory.Fill(source, (nuint)Bytes, 1);
        NativeMemory.Fill(target, (nuint)Bytes, 2);
    }

    /// <summary>One pass of copying: bytes read + written per second.</summary>
    public double CopySample() => Time((s, t, part) => Buffer.MemoryCopy(s, t, part, part), 2);

    /// <summary>One pass of summing a buffer, the access pattern of a decode step that only streams weights in.</summary>
    /// <remarks>Each core reads four regions of its part side by side: the fastest pure-read pattern measured
    /// here (one stream per core reaches about 80% of it; eight streams no more than four).</remarks>
    public double ReadSample() => Time((s, _, part) =>
    {
        const int Streams = 4;
        var length = part / sizeof(float) / Streams;
        float* p0 = (float*)s, p1 = p0 + length, p2 = p1 + length, p3 = p2 + length;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (long i = 0; i < length; i += 16)
        {
            a0 += Vector256.Load(p0 + i) + Vector256.Load(p0 + i + 8);
            a1 += Vector256.Load(p1 + i) + Vector256.Load(p1 + i + 8);
            a2 += Vector256.Load(p2 + i) + Vector256.Load(p2 + i + 8);
            a3 += Vector256.Load(p3 + i) + Vector256.Load(p3 + i + 8);
        }
        GC.KeepAlive(Vector256.Sum(a0 + a1 + a2 + a3));
    }, 1);

    /// <summary>Medians of <paramref name="samples"/> passes of each kind.</summary>
    public Bandwidth Measure(int samples = 7) =>
        new(Median(Enumerable.Range(0, samples).Select(_ => CopySample()).ToList()),
            Median(Enumerable.Range(0, samples).Select(_ => ReadSample()).ToList()));

    private delegate void Pass(byte* source, byte* target, long bytes);

    private double Time(Pass pass, int bytesPerByteRead)
    {
        var threads = Environment.ProcessorCount;
        var part = Bytes / threads;
        nint s = (nint)source, t = (nint)target;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, i => pass((byte*)s + i * part, (byte*)t + i * part, part));
        return (double)bytesPerByteRead * part * threads / clock.Elapsed.TotalSeconds;
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(source);
        NativeMemory.AlignedFree(target);
    }
}
