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
    /// <summary>Fetches every cache line of <paramref name="bytes"/> into L1.</summary>
    public static unsafe void Prefetch(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
            for (var i = 0; i < bytes.Length; i += 64) Sse.Prefetch0(p + i);
    }

    /// <summary>Σ a[i] · b[i]: the one-row decode dot product of f32 weights, inlined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (b.Length != a.Length) throw new ArgumentException("head vectors differ in length");
        fixed (float* x = a, y = b) return Kernels.Dot1<Kernels.F32>((byte*)x, y, a.Length);
    }

    /// <summary>What a query is multiplied by before <see cref="DotWithHalves"/>: the f16 loads return each half times
    /// 2^-112 (<see cref="Kernels.F16"/>), and a power of two changes no digit.</summary>
    public static float HalfQueryScale => Kernels.F16.ActivationScale;

    /// <summary>Σ query[i] · key[i] for an f16 cache's key, widened inside the loop: <paramref name="scaledQuery"/> is the
    /// query times <see cref="HalfQueryScale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float DotWithHalves(ReadOnlySpan<float> scaledQuery, ReadOnlySpan<Half> key)
    {
        if (key.Length != scaledQuery.Length) throw new ArgumentException("head vectors differ in length");
        fixed (float* q = scaledQuery)
        fixed (Half* k = key)
            return Kernels.Dot1<Kernels.F16>((byte*)k, q, key.Length) * Kernels.F16.SumScale;
    }

    /// <summary>target[i] += scale · source[i] for an f16 cache's value, widened inside the loop; the scale is a probability,
    /// at most 2^15 in magnitude (the widened halves come times 2^-112, which the scale takes back).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void AddScaledHalves(ReadOnlySpan<Half> source, float scale, Span<float> target)
    {
        var n = source.Length;
        if (target.Length != n) throw new ArgumentException("head vectors differ in length");
        if (!(MathF.Abs(scale) <= 32768f)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "A value's weight is a probability.");
        var widened = scale * WideningInverse;
        fixed (Half* x = source)
        fixed (float* y = target)
        {
            var i = 0;
            if (Kernels.Vectorized)
            {
                var s = Vector256.Create(widened);
                for (; i + 8 <= n; i += 8)
                    Fma.MultiplyAdd(Kernels.F16.Load8((byte*)x, i), s, Vector256.Load(y + i)).Store(y + i);
            }
            for (; i < n; i++) y[i] += widened * Kernels.F16.Load1((byte*)x, i);
        }
    }

    /// <summary>2^112: what the f16 loads' 2^-112 is undone by, as the GEMM undoes it.</summary>
    private static float WideningInverse => Kernels.F16.ActivationScale * Kernels.F16.SumScale;

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
