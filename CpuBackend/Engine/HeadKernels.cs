using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Attention's arithmetic over one row's cache: the scores of every head at every position, and the values summed
/// with the attention weights. Each takes the address of every position's features, so a fork's prefix (in its parent's
/// memory) and its own positions read alike.</summary>
/// <remarks>Until the evening of 26 Nov these were a dot product and a scaled add per head and position (at 10 sequences and 200
/// positions, 512,000 calls a step of the mid-size model), each reducing its dot product alone or loading, adding to and
/// storing its output again. Ten sequences at 150-210 positions, int8 weights, 2 cores (thread seconds summed over both
/// cores, a step): scores 1.23-1.32 → 1.08-1.13 ms, values 1.88-2.36 → 0.95-1.04 ms; attention 1.77-2.11 → 1.19-1.21 ms of
/// the step's wall time. One sequence at 32-72 positions: 0.19 → 0.08 ms.</remarks>
internal static unsafe class HeadKernels
{
    /// <summary>What a query is multiplied by before <see cref="Scores"/> reads an f16 cache: the f16 loads return each half
    /// times 2^-112 (<see cref="Kernels.F16"/>), and a power of two changes no digit.</summary>
    public static float HalfQueryScale => Kernels.F16.ActivationScale;

    /// <summary>2^112: what attention weights are multiplied by before <see cref="WeightedSum"/> reads an f16 cache, to undo the
    /// f16 loads' 2^-112. A weight is a probability, so the product stays finite.</summary>
    public static float WideningInverse => Kernels.F16.ActivationScale * Kernels.F16.SumScale;

    /// <summary>scores[h · length + t] = factor · Σ_i query[h · headDim + i] · rows[t][h · headDim + i] for every head h of the
    /// <paramref name="width"/> features and every position t.</summary>
    /// <remarks>Four positions at a time, all heads of each, so that the cache is read in memory order; the four sums of a
    /// head are reduced together (<see cref="Kernels.Reduce4"/>).</remarks>
    public static void Scores<T>(byte** rows, int length, int width, int headDim, float* query, float factor, float* scores)
        where T : struct, Kernels.IWeightFormat
    {
        var t = 0;
        if (Kernels.Wide && headDim % 16 == 0)
        {
            for (; t + 4 <= length; t += 4)
            {
                byte* k0 = rows[t], k1 = rows[t + 1], k2 = rows[t + 2], k3 = rows[t + 3];
                for (var from = 0; from < width; from += headDim)
                {
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (var i = from; i < from + headDim; i += 16)
                    {
                        var q = Vector512.Load(query + i);
                        a0 = Avx512F.FusedMultiplyAdd(T.Load16(k0, i), q, a0);
                        a1 = Avx512F.FusedMultiplyAdd(T.Load16(k1, i), q, a1);
                        a2 = Avx512F.FusedMultiplyAdd(T.Load16(k2, i), q, a2);
                        a3 = Avx512F.FusedMultiplyAdd(T.Load16(k3, i), q, a3);
                    }
                    var target = scores + from / headDim * length + t;
                    Kernels.Reduce4(a0, a1, a2, a3, target);
                    (Vector128.Load(target) * factor).Store(target);
                }
            }
        }
        for (; t < length; t++)
            for (var from = 0; from < width; from += headDim)
                scores[from / headDim * length + t] = Kernels.Dot1<T>(rows[t] + (long)from * T.Size, query + from, headDim) * factor;
    }

    /// <summary>output[f] = Σ_t weights[(f / headDim) · length + t] · rows[t][f] for f in [0, width): each head's values at
    /// every position, summed with that head's attention weights.</summary>
    /// <remarks>Eight vectors of output features (128 on AVX-512, 64 on AVX2) stay in registers across all positions.</remarks>
    public static void WeightedSum<T>(byte** rows, int length, int width, int headDim, float* weights, float* output)
        where T : struct, Kernels.IWeightFormat
    {
        var f = 0;
        if (Kernels.Wide && headDim % 16 == 0)
        {
            for (; f + 128 <= width; f += 128)
            {
                float* w0 = weights + f / headDim * length, w1 = weights + (f + 16) / headDim * length;
                float* w2 = weights + (f + 32) / headDim * length, w3 = weights + (f + 48) / headDim * length;
                float* w4 = weights + (f + 64) / headDim * length, w5 = weights + (f + 80) / headDim * length;
                float* w6 = weights + (f + 96) / headDim * length, w7 = weights + (f + 112) / headDim * length;
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                for (var t = 0; t < length; t++)
                {
                    var row = rows[t];
                    a0 = Avx512F.FusedMultiplyAdd(T.Load16(row, f), Vector512.Create(w0[t]), a0);
                    a1 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 16), Vector512.Create(w1[t]), a1);
                    a2 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 32), Vector512.Create(w2[t]), a2);
                    a3 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 48), Vector512.Create(w3[t]), a3);
                    a4 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 64), Vector512.Create(w4[t]), a4);
                    a5 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 80), Vector512.Create(w5[t]), a5);
                    a6 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 96), Vector512.Create(w6[t]), a6);
                    a7 = Avx512F.FusedMultiplyAdd(T.Load16(row, f + 112), Vector512.Create(w7[t]), a7);
                }
                a0.Store(output + f);
                a1.Store(output + f + 16);
                a2.Store(output + f + 32);
                a3.Store(output + f + 48);
                a4.Store(output + f + 64);
                a5.Store(output + f + 80);
                a6.Store(output + f + 96);
                a7.Store(output + f + 112);
            }
        }
        if (Kernels.Vectorized && headDim % 8 == 0)
        {
            for (; f + 64 <= width; f += 64)
            {
                float* w0 = weights + f / headDim * length, w1 = weights + (f + 8) / headDim * length;
                float* w2 = weights + (f + 16) / headDim * length, w3 = weights + (f + 24) / headDim * length;
                float* w4 = weights + (f + 32) / headDim * length, w5 = weights + (f + 40) / headDim * length;
                float* w6 = weights + (f + 48) / headDim * length, w7 = weights + (f + 56) / headDim * length;
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                for (var t = 0; t < length; t++)
                {
                    var row = rows[t];
                    a0 = Fma.MultiplyAdd(T.Load8(row, f), Vector256.Create(w0[t]), a0);
                    a1 = Fma.MultiplyAdd(T.Load8(row, f + 8), Vector256.Create(w1[t]), a1);
                    a2 = Fma.MultiplyAdd(T.Load8(row, f + 16), Vector256.Create(w2[t]), a2);
                    a3 = Fma.MultiplyAdd(T.Load8(row, f + 24), Vector256.Create(w3[t]), a3);
                    a4 = Fma.MultiplyAdd(T.Load8(row, f + 32), Vector256.Create(w4[t]), a4);
                    a5 = Fma.MultiplyAdd(T.Load8(row, f + 40), Vector256.Create(w5[t]), a5);
                    a6 = Fma.MultiplyAdd(T.Load8(row, f + 48), Vector256.Create(w6[t]), a6);
                    a7 = Fma.MultiplyAdd(T.Load8(row, f + 56), Vector256.Create(w7[t]), a7);
                }
                a0.Store(output + f);
                a1.Store(output + f + 8);
                a2.Store(output + f + 16);
                a3.Store(output + f + 24);
                a4.Store(output + f + 32);
                a5.Store(output + f + 40);
                a6.Store(output + f + 48);
                a7.Store(output + f + 56);
            }
            for (; f + 8 <= width; f += 8)
            {
                var w = weights + f / headDim * length;
                var a = Vector256<float>.Zero;
                for (var t = 0; t < length; t++) a = Fma.MultiplyAdd(T.Load8(rows[t], f), Vector256.Create(w[t]), a);
                a.Store(output + f);
            }
        }
        for (; f < width; f++)
        {
            var w = weights + f / headDim * length;
            var sum = 0f;
            for (var t = 0; t < length; t++) sum += w[t] * T.Load1(rows[t], f);
            output[f] = sum;
        }
    }
}
