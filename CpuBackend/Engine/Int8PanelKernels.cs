using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Int8 products on weights in panels (<see cref="Matrix.Int8Panels"/>) with the 512-bit VNNI kernel
/// (<see cref="Vnni512Kernels"/>): y[r, o] = scale_w[o] · scale_x[r] · Σ q_w[o, i] · q_x[r, i] + bias[o], the sum exact in
/// int32, as on the other integer paths.</summary>
/// <remarks>
/// <para>The activations are quantized per row to signed bytes (q = round(x · 127 / max|x|)) and packed in blocks of up to
/// <see cref="Vnni512Kernels.MaxRows"/> rows by groups of four depths. The weights are stored plus 128, so the kernel's sums
/// are Σ (q_w + 128) · q_x, and 128 · Σ q_x, one number per activation row, is taken off each.</para>
/// <para>Each panel is multiplied by every block in turn: a decode batch (one block) streams the weights once, prefill reads
/// each panel from L1 or L2 again for every block after the first.</para>
/// </remarks>
internal static unsafe class Int8PanelKernels
{
    /// <summary>How far ahead of the group it reads the kernel fetches a panel's lines, for blocks of several rows.</summary>
    private const int PrefetchBytes = 8192;

    /// <summary>Blocks of fewer rows than this leave the weight stream to the hardware prefetchers: batch 1 reads it at
    /// the copy bandwidth that way, and slower with software prefetches.</summary>
    private const int PrefetchedRows = 3;

    public static void MatMul(ReadOnlySpan<float> x, int rows, Kernels.Target[] targets)
    {
        var k = targets[0].Weights.Cols;
        var groups = (k + 3) / 4;
        var blocks = (rows + Vnni512Kernels.MaxRows - 1) / Vnni512Kernels.MaxRows;
        var packed = ArrayPool<sbyte>.Shared.Rent(rows * groups * 4);
        var scales = ArrayPool<float>.Shared.Rent(rows);
        var offsets = ArrayPool<int>.Shared.Rent(rows);
        try
        {
            fixed (float* xp = x, sp = scales)
            fixed (sbyte* pp = packed)
            fixed (int* op = offsets)
            {
                for (var b = 0; b < blocks; b++)
                {
                    int first = First(b, blocks, rows), count = First(b + 1, blocks, rows) - first;
                    for (var j = 0; j < count; j++)
                        Quantize(xp + (long)(first + j) * k, k, pp + (long)first * groups * 4 + 4 * j, 4 * count, out sp[first + j], out op[first + j]);
                }
                nint xa = (nint)pp, sa = (nint)sp, oa = (nint)op;
                Kernels.ForBands(rows, targets, (target, o0, o1, _) =>
                    Band((sbyte*)xa, (float*)sa, (int*)oa, rows, blocks, groups, target.Weights, target.Bias, target.Output, o0, o1));
            }
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(packed);
            ArrayPool<float>.Shared.Return(scales);
            ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>The first row of block <paramref name="b"/>: rows shared out evenly, so 16 rows are two blocks of eight.</summary>
    private static int First(int b, int blocks, int rows) => (int)((long)b * rows / blocks);

    /// <summary>One row quantized into its block: the four bytes of group g at <paramref name="target"/> + g · <paramref name="groupStride"/>,
    /// the depth past k as zeros; its scale, and 128 times the sum of its integers.</summary>
    private static void Quantize(float* row, int k, sbyte* target, int groupStride, out float scale, out int offset)
    {
        var max = MathF.Abs(TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(row, k)));
        var inverse = max == 0 ? 0 : 127f / max;
        scale = max / 127f;
        var sum = Vector512<int>.Zero;
        var i = 0;
        for (; i + 16 <= k; i += 16)
        {
            // vcvtps2dq rounds to nearest even, as MathF.Round does below; |q| <= 127, so narrowing is exact.
            var q = Avx512F.ConvertToVector512Int32(Vector512.Load(row + i) * inverse);
            sum += q;
            var bytes = Avx512F.ConvertToVector128SByte(q).AsInt32();
            var group = target + i / 4 * groupStride;
            *(int*)group = bytes.GetElement(0);
            *(int*)(group + groupStride) = bytes.GetElement(1);
            *(int*)(group + 2 * groupStride) = bytes.GetElement(2);
            *(int*)(group + 3 * groupStride) = bytes.GetElement(3);
        }
        var total = Vector512.Sum(sum);
        for (; i < (k + 3) / 4 * 4; i++)
        {
            var q = i < k ? (int)MathF.Round(row[i] * inverse) : 0;
            total += q;
            target[i / 4 * groupStride + i % 4] = (sbyte)q;
        }
        offset = 128 * total;
    }

    /// <summary>Output rows [o0, o1) (whole panels, the last one possibly partial) for every block of activation rows.</summary>
    private static void Band(sbyte* x, float* xs, int* offsets, int rows, int blocks, int groups, Matrix w, float* bias, float* y, int o0, int o1)
    {
        var sums = stackalloc int[2 * Vnni512Kernels.MaxRows * 16];
        for (var p = o0 / Matrix.PanelWidth; p * Matrix.PanelWidth < o1; p++)
        {
            var panel = w.Data + p * w.PanelBytes;
            for (var b = 0; b < blocks; b++)
            {
                int first = First(b, blocks, rows), count = First(b + 1, blocks, rows) - first;
                // Only the first block reads the panel from memory, so only it fetches ahead.
                var ahead = b == 0 && count >= PrefetchedRows ? PrefetchBytes : 0;
                Vnni512Kernels.PanelDot(count, panel, x + (long)first * groups * 4, groups, sums, ahead);
                Finish(sums, count, first, xs, offsets, w, p * Matrix.PanelWidth, bias, y);
            }
        }
    }

    /// <summary>y[r, o] = (sum − offset_r) · (scale_w[o] · scale_x[r]) + bias[o] for the block's rows and the panel's outputs
    /// from <paramref name="o"/>, as the other integer paths finish theirs.</summary>
    private static void Finish(int* sums, int count, int first, float* xs, int* offsets, Matrix w, int o, float* bias, float* y)
    {
        var n = w.Rows;
        for (var j = 0; j < count; j++)
        {
            var r = first + j;
            var target = y + (long)r * n;
            for (var h = o; h < o + Matrix.PanelWidth && h < n; h += 16)
            {
                var dots = Vector512.Load(sums + 32 * j + (h - o)) - Vector512.Create(offsets[r]);
                if (h + 16 <= n)
                {
                    var values = Vector512.ConvertToSingle(dots) * (Vector512.Load(w.Scales + h) * xs[r]);
                    (bias == null ? values : values + Vector512.Load(bias + h)).Store(target + h);
                    continue;
                }
                for (var e = h; e < n; e++)
                    target[e] = dots.GetElement(e - h) * (w.Scales[e] * xs[r]) + (bias == null ? 0f : bias[e]);
            }
        }
    }
}
