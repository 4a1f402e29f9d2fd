using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>The multiply-add peak of the instruction the batched kernels use for a weight type: every core issuing it back
/// to back on registers. A ten-row decode step's products cannot run faster, whatever the memory does.</summary>
/// <remarks>The engine's own kernel on a matrix in cache (<see cref="KernelRate"/>) is no ceiling: a decode step measured
/// 117-140% of it, its small products paying the hand-off between threads that a step's larger ones hide.</remarks>
internal static class InstructionPeak
{
    private const long Iterations = 20_000_000;

    /// <summary>Twelve independent accumulators per loop: more chains than the instruction's latency times its issue rate.</summary>
    private const int Chains = 12;

    public sealed record Peak(string Instruction, double MultiplyAddsPerSecond);

    private static readonly Dictionary<string, Peak> Measured = [];

    /// <summary>The peak of the instruction <paramref name="storage"/>'s batched kernels multiply with, on all cores; null on a
    /// CPU whose kernels use no vector multiply-add.</summary>
    public static Peak? For(WeightType storage)
    {
        (string Name, int PerInstruction, Func<long> Loop)? kind =
            storage == WeightType.Int8 && Int8Kernels.Best == Int8Path.Avx512Vnni ? ("vpdpbusd 512-bit", 64, Vnni512)
            : storage == WeightType.Int8 && Int8Kernels.Best == Int8Path.AvxVnni ? ("vpdpbusd 256-bit", 32, Vnni256)
            : storage == WeightType.Int8 && Int8Kernels.Best == Int8Path.Avx2 ? ("vpmaddwd 256-bit", 16, Words256)
            : Kernels.Wide ? ("vfmadd 512-bit", 16, Fma512)
            : Fma.IsSupported ? ("vfmadd 256-bit", 8, Fma256)
            : null;
        if (kind is not { } k) return null;
        if (!Measured.TryGetValue(k.Name, out var peak))
            Measured[k.Name] = peak = new Peak(k.Name, k.PerInstruction * OnAllCores(k.Loop));
        return peak;
    }

    /// <summary>Instructions per second with every core running <paramref name="loop"/> at once; the best of five rounds, since
    /// anything else on a core (the JIT's background compiles, another tenant) only lowers it.</summary>
    /// <remarks>Each thread reads the clock itself, from its first to its last instruction: timed by the starting thread,
    /// which competes for a core with them, the start came late and one round read 297 G/s for an FMA whose single-core
    /// rate gives 264.</remarks>
    private static double OnAllCores(Func<long> loop)
    {
        loop(); // compiled and warm before timing
        var cores = Environment.ProcessorCount;
        var rates = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            var (starts, ends) = (new long[cores], new long[cores]);
            using var start = new Barrier(cores);
            var threads = Enumerable.Range(0, cores).Select(core => new Thread(() =>
            {
                start.SignalAndWait();
                starts[core] = Stopwatch.GetTimestamp();
                GC.KeepAlive(loop());
                ends[core] = Stopwatch.GetTimestamp();
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            var seconds = (double)(ends.Max() - starts.Min()) / Stopwatch.Frequency;
            rates.Add(cores * (double)Iterations * Chains / seconds);
        }
        return rates.Max();
    }

    // One loop per instruction, written out: a generic loop over an interface's static Step kept half of its twelve
    // accumulators on the stack (the peaks read 105 and 242 G/s instead of 262 and 525).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Fma512()
    {
        var (x, y) = (Vector512.Create(0.999f), Vector512.Create(1e-3f));
        Vector512<float> a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y, a10 = x, a11 = y;
        for (var i = 0L; i < Iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, x, y); a1 = Avx512F.FusedMultiplyAdd(a1, x, y); a2 = Avx512F.FusedMultiplyAdd(a2, x, y);
            a3 = Avx512F.FusedMultiplyAdd(a3, x, y); a4 = Avx512F.FusedMultiplyAdd(a4, x, y); a5 = Avx512F.FusedMultiplyAdd(a5, x, y);
            a6 = Avx512F.FusedMultiplyAdd(a6, x, y); a7 = Avx512F.FusedMultiplyAdd(a7, x, y); a8 = Avx512F.FusedMultiplyAdd(a8, x, y);
            a9 = Avx512F.FusedMultiplyAdd(a9, x, y); a10 = Avx512F.FusedMultiplyAdd(a10, x, y); a11 = Avx512F.FusedMultiplyAdd(a11, x, y);
        }
        return (long)Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Fma256()
    {
        var (x, y) = (Vector256.Create(0.999f), Vector256.Create(1e-3f));
        Vector256<float> a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y, a10 = x, a11 = y;
        for (var i = 0L; i < Iterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, x, y); a1 = Fma.MultiplyAdd(a1, x, y); a2 = Fma.MultiplyAdd(a2, x, y);
            a3 = Fma.MultiplyAdd(a3, x, y); a4 = Fma.MultiplyAdd(a4, x, y); a5 = Fma.MultiplyAdd(a5, x, y);
            a6 = Fma.MultiplyAdd(a6, x, y); a7 = Fma.MultiplyAdd(a7, x, y); a8 = Fma.MultiplyAdd(a8, x, y);
            a9 = Fma.MultiplyAdd(a9, x, y); a10 = Fma.MultiplyAdd(a10, x, y); a11 = Fma.MultiplyAdd(a11, x, y);
        }
        return (long)Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Vnni256()
    {
        var (x, y) = (Vector256.Create((byte)3), Vector256.Create((sbyte)-2));
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<int> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (var i = 0L; i < Iterations; i++)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, x, y); a1 = AvxVnni.MultiplyWideningAndAdd(a1, x, y); a2 = AvxVnni.MultiplyWideningAndAdd(a2, x, y);
            a3 = AvxVnni.MultiplyWideningAndAdd(a3, x, y); a4 = AvxVnni.MultiplyWideningAndAdd(a4, x, y); a5 = AvxVnni.MultiplyWideningAndAdd(a5, x, y);
            a6 = AvxVnni.MultiplyWideningAndAdd(a6, x, y); a7 = AvxVnni.MultiplyWideningAndAdd(a7, x, y); a8 = AvxVnni.MultiplyWideningAndAdd(a8, x, y);
            a9 = AvxVnni.MultiplyWideningAndAdd(a9, x, y); a10 = AvxVnni.MultiplyWideningAndAdd(a10, x, y); a11 = AvxVnni.MultiplyWideningAndAdd(a11, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    /// <summary>vpdpbusd on zmm registers has no .NET intrinsic: the loop is written as machine code, as the kernel is
    /// (<see cref="Vnni512Kernels"/>).</summary>
    private static unsafe long Vnni512()
    {
        var loop = (delegate* unmanaged[SuppressGCTransition]<long, void>)Vnni512Loop.Value;
        loop(Iterations);
        return Iterations;
    }

    /// <summary>void loop(long iterations): <see cref="Chains"/> accumulators zmm0-11, each vpdpbusd-ed with zmm12 and zmm13
    /// once per iteration.</summary>
    private static readonly Lazy<nint> Vnni512Loop = new(() =>
    {
        var code = new X64Assembler();
        for (var register = 0; register < Chains + 2; register++) code.Vpxord(register);
        var top = code.Length;
        for (var chain = 0; chain < Chains; chain++) code.Vpdpbusd(chain, Chains, Chains + 1);
        code.DecJumpIfNotZero(X64Assembler.Rdi, top);
        code.VzeroupperRet();
        return ExecutableMemory.Load(code.ToArray()) ?? throw new InvalidOperationException("this system refuses executable pages");
    });

    /// <summary>vpmaddwd and the add that accumulates it, as the AVX2 int8 kernel does; each product reads its own accumulator,
    /// so the JIT cannot hoist it out of the loop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Words256()
    {
        var y = Vector256.Create((short)3);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<int> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (var i = 0L; i < Iterations; i++)
        {
            a0 += Avx2.MultiplyAddAdjacent(a0.AsInt16(), y); a1 += Avx2.MultiplyAddAdjacent(a1.AsInt16(), y); a2 += Avx2.MultiplyAddAdjacent(a2.AsInt16(), y);
            a3 += Avx2.MultiplyAddAdjacent(a3.AsInt16(), y); a4 += Avx2.MultiplyAddAdjacent(a4.AsInt16(), y); a5 += Avx2.MultiplyAddAdjacent(a5.AsInt16(), y);
            a6 += Avx2.MultiplyAddAdjacent(a6.AsInt16(), y); a7 += Avx2.MultiplyAddAdjacent(a7.AsInt16(), y); a8 += Avx2.MultiplyAddAdjacent(a8.AsInt16(), y);
            a9 += Avx2.MultiplyAddAdjacent(a9.AsInt16(), y); a10 += Avx2.MultiplyAddAdjacent(a10.AsInt16(), y); a11 += Avx2.MultiplyAddAdjacent(a11.AsInt16(), y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
