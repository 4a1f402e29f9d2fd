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
    /// <summary>Σ a[i] · b[i]: the one-row decode dot product of f32 weights, inlined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (b.Length != a.Length) throw new ArgumentException("head vectors differ in length");
        fixed (float* x = a, y = b) return Kernels.Dot1<Kernels.F32>((byte*)x, y, a.Length);
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
