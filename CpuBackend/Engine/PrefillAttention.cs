using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Causal attention of up to four prompt rows of one f32 cache at once, head by head (AVX-512, head_dim a multiple
/// of sixteen): each key and value is loaded once for the four rows, a head's four outputs stay in registers across the
/// positions, and the four scores of a position come out of one tree of horizontal adds.</summary>
/// <remarks>A prompt's rows read the same cache, which is hot in L2 and L3 while the prompt is attended, so going head by
/// head costs no misses, unlike decode over cold caches. Row by row, each score and each weighted value was a call over
/// head_dim features with its own reduction and its own loads and stores of the output.</remarks>
internal static unsafe class PrefillAttention
{
    /// <summary>Rows attended together.</summary>
    public const int Rows = 4;

    /// <summary>Features of one head's output kept in registers per row: four vectors of sixteen.</summary>
    private const int Chunk = 64;

    public static bool Supports(int headDim) => Kernels.Wide && headDim % 16 == 0;

    /// <summary>Rows [first, first + count) (count 1 to <see cref="Rows"/>, consecutive positions of one cache): for each head
    /// in [firstHead, endHead) of <paramref name="heads"/>, softmax(q · kᵀ · scale) over positions 0 to the row's own, times
    /// the values.</summary>
    public static void Attend(float[] q, KvRows keys, KvRows values, int[] positions, int first, int count, int heads, int firstHead, int endHead,
        int headDim, float scale, float[] output)
    {
        if (count is < 1 or > Rows) throw new ArgumentOutOfRangeException(nameof(count));
        if (firstHead < 0 || endHead > heads || firstHead >= endHead) throw new ArgumentOutOfRangeException(nameof(firstHead));
        var embedding = heads * headDim;
        Span<int> lengths = stackalloc int[Rows];
        var longest = 0;
        for (var j = 0; j < Rows; j++)
        {
            lengths[j] = positions[first + Math.Min(j, count - 1)] + 1;
            longest = Math.Max(longest, lengths[j]);
        }
        var scores = ArrayPool<float>.Shared.Rent(Rows * longest);
        try
        {
            fixed (float* qp = q, op = output, sp = scores)
            {
                var queries = stackalloc float*[Rows];
                for (var h = firstHead; h < endHead; h++)
                {
                    // Rows past count repeat the last row: computed, never stored.
                    for (var j = 0; j < Rows; j++) queries[j] = qp + (long)(first + Math.Min(j, count - 1)) * embedding + h * headDim;
                    for (var t = 0; t < longest; t++)
                    {
                        fixed (float* k = keys.Read(t, h * headDim, headDim))
                            Scores(queries, k, headDim, scale, sp + t, longest);
                    }
                    for (var j = 0; j < Rows; j++)
                    {
                        var row = scores.AsSpan(j * longest, longest);
                        Kernels.Softmax(row[..lengths[j]]);
                        row[lengths[j]..].Clear(); // positions after the row's own weigh nothing
                    }
                    for (var c = 0; c < headDim; c += Chunk)
                        AddWeighted(values, h * headDim + c, Math.Min(Chunk, headDim - c), longest, sp, op, first, count, embedding);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    /// <summary>scores[j · stride] = scale · (query_j · key) for the four rows' queries of one head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores(float** queries, float* key, int headDim, float scale, float* scores, int stride)
    {
        Vector512<float> a = default, b = default, c = default, d = default;
        for (var i = 0; i < headDim; i += 16)
            Kernels.Step4(Vector512.Load(queries[0] + i), Vector512.Load(queries[1] + i), Vector512.Load(queries[2] + i),
                Vector512.Load(queries[3] + i), key + i, ref a, ref b, ref c, ref d);
        var sums = Vector128<float>.Zero;
        Kernels.Reduce4(a, b, c, d, (float*)&sums);
        for (var j = 0; j < Rows; j++) scores[j * stride] = sums.GetElement(j) * scale;
    }

    /// <summary>output_j[from .. from + width) = Σ_t p_j[t] · value_t[from ..] for the rows stored (j &lt; count), the sums
    /// kept in registers across the positions and added in position order.</summary>
    private static void AddWeighted(KvRows values, int from, int width, int longest, float* scores, float* output, int first, int count, int embedding)
    {
        var vectors = width / 16;
        // Four rows × up to four vectors of this chunk of the head.
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (var t = 0; t < longest; t++)
        {
            fixed (float* v = values.Read(t, from, width))
            {
                Vector512<float> pa = Vector512.Create(scores[t]), pb = Vector512.Create(scores[longest + t]);
                Vector512<float> pc = Vector512.Create(scores[2 * longest + t]), pd = Vector512.Create(scores[3 * longest + t]);
                Kernels.Step4(pa, pb, pc, pd, v, ref a0, ref b0, ref c0, ref d0);
                if (vectors < 2) continue;
                Kernels.Step4(pa, pb, pc, pd, v + 16, ref a1, ref b1, ref c1, ref d1);
                if (vectors < 3) continue;
                Kernels.Step4(pa, pb, pc, pd, v + 32, ref a2, ref b2, ref c2, ref d2);
                if (vectors < 4) continue;
                Kernels.Step4(pa, pb, pc, pd, v + 48, ref a3, ref b3, ref c3, ref d3);
            }
        }
        Store(output + (long)first * embedding + from, vectors, a0, a1, a2, a3);
        if (count > 1) Store(output + (long)(first + 1) * embedding + from, vectors, b0, b1, b2, b3);
        if (count > 2) Store(output + (long)(first + 2) * embedding + from, vectors, c0, c1, c2, c3);
        if (count > 3) Store(output + (long)(first + 3) * embedding + from, vectors, d0, d1, d2, d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* target, int vectors, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        v0.Store(target);
        if (vectors > 1) v1.Store(target + 16);
        if (vectors > 2) v2.Store(target + 32);
        if (vectors > 3) v3.Store(target + 48);
    }
}
