using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Attention's per-head arithmetic: a dot product and a scaled add over one head's features.</summary>
/// <remarks>Attention makes two such calls per head, position and row (at 10 sequences and 200 positions, 512,000 per
/// step of the mid-size model), each over only head_dim features (64 there, 256 in GPT-J 6B). TensorPrimitives'
/// per-call dispatch and overlap checks cost more than that arithmetic (a third of a 10-sequence int8 step at 600
/// positions), so these are inlined loops.</remarks>
internal static class HeadKernels
{
    /// <summary>Σ a[i] · b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var n = a.Length;
        if (b.Length != n) throw new ArgumentException("head vectors differ in length");
        ref var x = ref MemoryMarshal.GetReference(a);
        ref var y = ref MemoryMarshal.GetReference(b);
        var i = 0;
        var sum = 0f;
        if (Kernels.Vectorized && n >= 8)
        {
            // Two accumulators: an FMA's latency is four of its issue slots.
            Vector256<float> s0 = default, s1 = default;
            for (; i + 16 <= n; i += 16)
            {
                s0 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i), s0);
                s1 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i + 8), Vector256.LoadUnsafe(ref y, (nuint)i + 8), s1);
            }
            if (i + 8 <= n)
            {
                s0 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i), s0);
                i += 8;
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        return sum;
    }

    /// <summary>target[i] += scale · source[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddScaled(ReadOnlySpan<float> source, float scale, Span<float> target)
    {
        var n = source.Length;
        if (target.Length != n) throw new ArgumentException("head vectors differ in length");
        ref var x = ref MemoryMarshal.GetReference(source);
        ref var y = ref MemoryMarshal.GetReference(target);
        var i = 0;
        if (Kernels.Vectorized)
        {
            var s = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8)
                Fma.MultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), s, Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) += scale * Unsafe.Add(ref x, i);
    }
}
