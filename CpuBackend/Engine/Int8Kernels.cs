using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>How int8 weights are multiplied.</summary>
public enum Int8Path
{
    /// <summary>Widened to floats against float activations by <see cref="Kernels"/>' generic kernels (CPUs without AVX2).</summary>
    Float,

    /// <summary>Integer products with vpmaddwd on weights and activations sign-extended to 16 bits.</summary>
    Avx2,

    /// <summary>Integer products with vpdpbusd (AVX-VNNI): 32 byte products summed into eight int32 lanes by one instruction.</summary>
    AvxVnni,

    /// <summary>vpdpbusd on 512-bit registers (AVX512-VNNI, <see cref="Vnni512Kernels"/>) against weights stored in panels
    /// (<see cref="Matrix.Int8Panels"/>): each instruction adds four byte products into each of sixteen outputs, so no sum
    /// is reduced across lanes (<see cref="Int8PanelKernels"/>).</summary>
    Avx512Vnni,
}

/// <summary>Products of int8 weights with activations quantized to int8 per row at the start of each product:
/// y[r, o] = scale_w[o] · scale_x[r] · Σ q_w[o, i] · q_x[r, i] + bias[o], the sum exact in int32.</summary>
/// <remarks>One scale per activation row, max|x| / 127, is what the integer sum allows without converting each block's
/// partial sum to float (Q8_0's blocks of 32 would cost a conversion and an FMA per 32 products, as much as the f32 kernel).
/// It adds at most scale_x / 2 · Σ|w| to each output; the parity tests bound the effect on the logits.
/// .NET 10 exposes VNNI only on 256-bit vectors (AvxVnni); its 512-bit form is emitted as machine code (<see cref="Vnni512Kernels"/>).</remarks>
internal static unsafe class Int8Kernels
{
    /// <summary>The fastest path for weights stored row by row that this CPU (and its DOTNET_Enable* switches) allows.</summary>
    public static readonly Int8Path BestForRows = AvxVnni.IsSupported ? Int8Path.AvxVnni : Avx2.IsSupported ? Int8Path.Avx2 : Int8Path.Float;

    /// <summary>The fastest path this CPU (and its DOTNET_Enable* switches) allows; int8 weights are loaded in the layout it
    /// reads (<see cref="Matrix.Int8Panels"/>).</summary>
    public static readonly Int8Path Best = Vnni512Kernels.IsSupported ? Int8Path.Avx512Vnni : BestForRows;

    /// <summary>The path that multiplies <paramref name="w"/>: the 512-bit kernel reads panels, the others rows.</summary>
    public static Int8Path PathFor(Matrix w) => w.Int8Panels ? Int8Path.Avx512Vnni : BestForRows;

    /// <summary>Elements one 256-bit multiply-add takes: one vector of bytes (VNNI) or two of int16 (AVX2).</summary>
    private const int Chunk = 32;

    /// <summary>Packed activations up to this size are read from L1 by every pair of weight rows (a third of a 48 KiB L1).</summary>
    private const int PairOrderBytes = 16 << 10;

    /// <summary>Decode batches up to this many rows whose packed activations exceed <see cref="PairOrderBytes"/> run the pair
    /// order over slices of the depth (<see cref="DepthSlicedPairOrder"/>); more rows (prefill) sweep L2 tiles.</summary>
    private const int DepthSlicedRows = 16;

    /// <summary>How many row pairs ahead the pair order fetches: at one pair, 2 KiB ahead in a 1024-deep matrix, the first block
    /// of a ten-row step still waited for memory.</summary>
    private const int PairsAhead = 2;

    public static bool IsSupported(Int8Path path) => path switch
    {
        Int8Path.Avx512Vnni => Vnni512Kernels.IsSupported,
        Int8Path.AvxVnni => AvxVnni.IsSupported,
        Int8Path.Avx2 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>y[r, o] = Σ_i x[r, i] · w[o, i] (+ bias[o]) on one of the integer paths.</summary>
    public static void MatMul(Int8Path path, ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y)
    {
        if (y.Length < rows * w.Rows) throw new ArgumentException("matrix product operands are too small");
        fixed (float* yp = y, bp = bias) MatMul(path, x, rows, [new Kernels.Target(w, bp, yp)]);
    }

    /// <summary>Products of one input with several int8 matrices of its width (<see cref="Kernels.MatMul(ReadOnlySpan{float}, int, ReadOnlySpan{Product})"/>):
    /// the input is quantized once.</summary>
    internal static void MatMul(Int8Path path, ReadOnlySpan<float> x, int rows, Kernels.Target[] targets)
    {
        foreach (var target in targets)
            if (target.Weights.Type != WeightType.Int8) throw new ArgumentException($"integer kernels need int8 weights, not {target.Weights.Type}", nameof(targets));
        if (x.Length < rows * targets[0].Weights.Cols) throw new ArgumentException("matrix product operands are too small");
        if (path == Int8Path.Float || !IsSupported(path)) throw new ArgumentException($"{path} is not an integer path of this CPU", nameof(path));
        foreach (var target in targets)
            if (target.Weights.Int8Panels != (path == Int8Path.Avx512Vnni))
                throw new ArgumentException($"{path} reads int8 weights {(path == Int8Path.Avx512Vnni ? "in panels" : "row by row")}", nameof(targets));
        switch (path)
        {
            case Int8Path.Avx512Vnni: Int8PanelKernels.MatMul(x, rows, targets); break;
            case Int8Path.AvxVnni: Run<Vnni>(x, rows, targets); break;
            default: Run<Words>(x, rows, targets); break;
        }
    }

    private static void Run<T>(ReadOnlySpan<float> x, int rows, Kernels.Target[] targets) where T : struct, IIntegerIsa
    {
        var k = targets[0].Weights.Cols;
        var stride = (k + Chunk - 1) / Chunk * Chunk;
        var packed = ArrayPool<byte>.Shared.Rent(rows * stride * T.ElementSize);
        var scales = ArrayPool<float>.Shared.Rent(rows);
        try
        {
            fixed (float* xp = x, sp = scales)
            fixed (byte* pp = packed)
            {
                Quantize<T>(xp, rows, k, stride, pp, sp);
                nint xa = (nint)pp, sa = (nint)sp;
                Kernels.ForBands(rows, targets, (target, o0, o1, tile) =>
                    Band<T>((byte*)xa, (float*)sa, rows, stride, target.Weights, target.Bias, target.Output, o0, o1, tile));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packed);
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    /// <summary>Quantizes each row (q = round(x · 127 / max|x|), scale = max|x| / 127) into blocks of up to five rows
    /// interleaved by chunks of 32 elements, as <see cref="Kernels"/> packs floats: one pointer reaches every row of a block.</summary>
    private static void Quantize<T>(float* x, int rows, int k, int stride, byte* packed, float* scales) where T : struct, IIntegerIsa
    {
        for (var r0 = 0; r0 < rows; r0 += 5)
        {
            var count = Math.Min(5, rows - r0);
            var block = packed + (long)r0 * stride * T.ElementSize;
            for (var j = 0; j < count; j++)
            {
                var row = x + (long)(r0 + j) * k;
                var max = MathF.Abs(TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(row, k)));
                var inverse = max == 0 ? 0 : 127f / max;
                scales[r0 + j] = max / 127f;
                var factor = Vector256.Create(inverse);
                for (var c = 0; c < stride; c += Chunk)
                {
                    var target = block + ((long)c * count + j * Chunk) * T.ElementSize;
                    if (c + Chunk <= k)
                    {
                        // vcvtps2dq rounds to nearest even, as MathF.Round does below; |q| <= 127, so narrowing is exact.
                        var q = row + c;
                        T.Store32(target, Vector256.Narrow(
                            Vector256.Narrow(Avx.ConvertToVector256Int32(Avx.LoadVector256(q) * factor), Avx.ConvertToVector256Int32(Avx.LoadVector256(q + 8) * factor)),
                            Vector256.Narrow(Avx.ConvertToVector256Int32(Avx.LoadVector256(q + 16) * factor), Avx.ConvertToVector256Int32(Avx.LoadVector256(q + 24) * factor))));
                        continue;
                    }
                    for (var e = 0; e < Chunk; e++)
                        T.Store(target + e * T.ElementSize, c + e < k ? (int)MathF.Round(row[c + e] * inverse) : 0);
                }
            }
        }
    }

    private static void Band<T>(byte* x, float* xs, int rows, int stride, Matrix w, float* bias, float* y, int o0, int o1, int tile)
        where T : struct, IIntegerIsa
    {
        if (rows == 1)
        {
            Tile1<T>(x, xs[0], w, bias, y, o0, o1);
            return;
        }
        if ((long)rows * stride * T.ElementSize <= PairOrderBytes)
        {
            PairOrder<T>(x, xs, rows, stride, w, bias, y, o0, o1);
            return;
        }
        if (rows <= DepthSlicedRows)
        {
            DepthSlicedPairOrder<T>(x, xs, rows, stride, w, bias, y, o0, o1);
            return;
        }
        for (var t0 = o0; t0 < o1; t0 += tile)
        {
            var t1 = Math.Min(o1, t0 + tile);
            // As in the float kernels: the first block brings the tile from memory, prefetching the next row pair.
            for (var r = 0; r < rows; r += 5)
                Block<T>(x, xs, rows, stride, w, bias, y, r, t0, t1, prefetch: r == 0, t1);
        }
    }

    /// <summary>The block of up to five activation rows from row <paramref name="r"/> against weight rows [t0, t1).</summary>
    /// <param name="limit">The last weight row (exclusive) that may be prefetched.</param>
    private static void Block<T>(byte* x, float* xs, int rows, int stride, Matrix w, float* bias, float* y, int r, int t0, int t1, bool prefetch, int limit)
        where T : struct, IIntegerIsa
    {
        var xr = x + (long)r * stride * T.ElementSize;
        var yr = y + (long)r * w.Rows;
        switch (Math.Min(5, rows - r))
        {
            case 1: Tile2xN<T, Kernels.One>(xr, xs + r, w, bias, yr, t0, t1, prefetch, limit); break;
            case 2: Tile2xN<T, Kernels.Two>(xr, xs + r, w, bias, yr, t0, t1, prefetch, limit); break;
            case 3: Tile2xN<T, Kernels.Three>(xr, xs + r, w, bias, yr, t0, t1, prefetch, limit); break;
            case 4: Tile2xN<T, Kernels.Four>(xr, xs + r, w, bias, yr, t0, t1, prefetch, limit); break;
            default: Tile2xN<T, Kernels.Five>(xr, xs + r, w, bias, yr, t0, t1, prefetch, limit); break;
        }
    }

    /// <summary>The float result of an integer dot product: undo the activation offset, apply both scales, add the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<T>(int dot, Matrix w, int o, float xScale, float* bias) where T : struct, IIntegerIsa =>
        (dot - T.Offset * w.RowSums[o]) * (w.Scales[o] * xScale) + (bias == null ? 0f : bias[o]);

    /// <summary>One activation row: four streams a quarter of the band apart, as the float decode kernel reads them.</summary>
    private static void Tile1<T>(byte* x, float xScale, Matrix w, float* bias, float* y, int o0, int o1) where T : struct, IIntegerIsa
    {
        var four = stackalloc int[4];
        var k = w.Cols;
        var o = o0;
        if (o1 - o0 >= 4)
        {
            var quarter = (o1 - o0) / 4;
            for (; o < o0 + quarter; o++)
            {
                Dot4x1<T>((sbyte*)w.Data + (long)o * k, (long)quarter * k, x, k, four);
                for (var j = 0; j < 4; j++) y[o + j * quarter] = Finish<T>(four[j], w, o + j * quarter, xScale, bias);
            }
            o = o0 + 4 * quarter;
        }
        // The last rows (fewer than four) go through the same kernel, each as four copies of itself.
        for (; o < o1; o++)
        {
            Dot4x1<T>((sbyte*)w.Data + (long)o * k, 0, x, k, four);
            y[o] = Finish<T>(four[0], w, o, xScale, bias);
        }
    }

    /// <summary>Decode batches: every block of rows uses each pair of weight rows right after the first block brought it from
    /// memory, so the memory stream overlaps the arithmetic of all blocks.</summary>
    /// <remarks>Ten rows measured 7% faster per decode step than blocks that each swept an L2 tile, where memory idled while
    /// the later blocks computed. The blocks' row scales and the result buffer are set up once per band: a call per pair and
    /// block that set them up again cost as much as the pair's arithmetic at 1024 deep.</remarks>
    private static void PairOrder<T>(byte* x, float* xs, int rows, int stride, Matrix w, float* bias, float* y, int o0, int o1)
        where T : struct, IIntegerIsa
    {
        var pair = stackalloc int[Kernels.Slots];
        int k = w.Cols, n = w.Rows;
        var blocks = (rows + 4) / 5;
        var rowScales = stackalloc Vector256<float>[blocks];
        for (var b = 0; b < blocks; b++) rowScales[b] = RowScales(xs + 5 * b, Math.Min(5, rows - 5 * b));
        var even = o0 + (o1 - o0) / 2 * 2;
        for (var o = o0; o < even; o += 2)
        {
            var wr = (sbyte*)w.Data + (long)o * k;
            var ahead = o + 2 * PairsAhead + 1 < o1 ? 2L * PairsAhead * k : 0;
            for (var b = 0; b < blocks; b++)
            {
                var r = 5 * b;
                var xr = x + (long)r * stride * T.ElementSize;
                var yr = y + (long)r * n;
                switch (Math.Min(5, rows - r))
                {
                    case 1: Pair<T, Kernels.One>(wr, xr, pair, ahead, w, o, rowScales[b], xs + r, bias, yr); break;
                    case 2: Pair<T, Kernels.Two>(wr, xr, pair, ahead, w, o, rowScales[b], xs + r, bias, yr); break;
                    case 3: Pair<T, Kernels.Three>(wr, xr, pair, ahead, w, o, rowScales[b], xs + r, bias, yr); break;
                    case 4: Pair<T, Kernels.Four>(wr, xr, pair, ahead, w, o, rowScales[b], xs + r, bias, yr); break;
                    default: Pair<T, Kernels.Five>(wr, xr, pair, ahead, w, o, rowScales[b], xs + r, bias, yr); break;
                }
                // Only the first block reads the pair from memory, so only it fetches the next.
                ahead = 0;
            }
        }
        // An odd last weight row goes through the tile kernel, which pairs it with itself.
        if (even < o1)
            for (var r = 0; r < rows; r += 5)
                Block<T>(x, xs, rows, stride, w, bias, y, r, even, o1, prefetch: false, o1);
    }

    /// <summary><see cref="PairOrder"/> for activations too large for L1 (ten rows of a 4096-deep product: 40 KiB): over slices
    /// of the depth whose activations fit it, each pair's integer sums carried from slice to slice and finished after the
    /// last, so every block still takes each pair of weight rows from L1 right after the first block brought it from memory.</summary>
    /// <remarks>Replaced, for decode batches, the L2 tiles each block swept in turn (the first from memory, the others from
    /// L2), which ran a ten-row step's 4096-deep fc_out at 313 G multiply-adds/s on 2 cores against 367 for the 1024-deep
    /// products in the pair order.</remarks>
    private static void DepthSlicedPairOrder<T>(byte* x, float* xs, int rows, int stride, Matrix w, float* bias, float* y, int o0, int o1)
        where T : struct, IIntegerIsa
    {
        int k = w.Cols, n = w.Rows;
        var blocks = (rows + 4) / 5;
        var depth = Math.Max(Chunk, PairOrderBytes / (rows * T.ElementSize) / Chunk * Chunk);
        var pairs = (o1 - o0) / 2;
        var pair = stackalloc int[Kernels.Slots];
        var rowScales = stackalloc Vector256<float>[blocks];
        for (var b = 0; b < blocks; b++) rowScales[b] = RowScales(xs + 5 * b, Math.Min(5, rows - 5 * b));
        // Each pair's and block's ten sums (Kernels.Slot order), carried over the slices.
        var carried = ArrayPool<int>.Shared.Rent(Math.Max(1, pairs * blocks * Kernels.Slots));
        try
        {
            fixed (int* sums = carried)
            {
                new Span<int>(sums, pairs * blocks * Kernels.Slots).Clear();
                for (var d0 = 0; d0 < k; d0 += depth)
                {
                    var slice = Math.Min(depth, k - d0);
                    for (var p = 0; p < pairs; p++)
                    {
                        var wr = (sbyte*)w.Data + (long)(o0 + 2 * p) * k + d0;
                        var ahead = p + PairsAhead < pairs ? 2L * PairsAhead * k : 0;
                        for (var b = 0; b < blocks; b++)
                        {
                            var count = Math.Min(5, rows - 5 * b);
                            // Element d0 of a block's rows: d0 / Chunk chunks of `count` rows in.
                            var xr = x + ((long)5 * b * stride + (long)d0 * count) * T.ElementSize;
                            switch (count)
                            {
                                case 1: Dot2xN<T, Kernels.One>(wr, wr + k, xr, slice, pair, ahead); break;
                                case 2: Dot2xN<T, Kernels.Two>(wr, wr + k, xr, slice, pair, ahead); break;
                                case 3: Dot2xN<T, Kernels.Three>(wr, wr + k, xr, slice, pair, ahead); break;
                                case 4: Dot2xN<T, Kernels.Four>(wr, wr + k, xr, slice, pair, ahead); break;
                                default: Dot2xN<T, Kernels.Five>(wr, wr + k, xr, slice, pair, ahead); break;
                            }
                            var sum = sums + (p * blocks + b) * Kernels.Slots;
                            (Vector256.Load(sum) + Vector256.Load(pair)).Store(sum);
                            sum[8] += pair[8];
                            sum[9] += pair[9];
                            // Only the first block reads the pair from memory, so only it fetches ahead.
                            ahead = 0;
                        }
                    }
                }
                for (var p = 0; p < pairs; p++)
                    for (var b = 0; b < blocks; b++)
                    {
                        int o = o0 + 2 * p, r = 5 * b;
                        var sum = sums + (p * blocks + b) * Kernels.Slots;
                        var yr = y + (long)r * n;
                        switch (Math.Min(5, rows - r))
                        {
                            case 1: FinishPair<T, Kernels.One>(sum, w, o, rowScales[b], xs + r, bias, yr); break;
                            case 2: FinishPair<T, Kernels.Two>(sum, w, o, rowScales[b], xs + r, bias, yr); break;
                            case 3: FinishPair<T, Kernels.Three>(sum, w, o, rowScales[b], xs + r, bias, yr); break;
                            case 4: FinishPair<T, Kernels.Four>(sum, w, o, rowScales[b], xs + r, bias, yr); break;
                            default: FinishPair<T, Kernels.Five>(sum, w, o, rowScales[b], xs + r, bias, yr); break;
                        }
                    }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(carried);
        }
        // An odd last weight row goes through the tile kernel, which pairs it with itself.
        if (o0 + 2 * pairs < o1)
            for (var r = 0; r < rows; r += 5)
                Block<T>(x, xs, rows, stride, w, bias, y, r, o0 + 2 * pairs, o1, prefetch: false, o1);
    }

    /// <summary>N (1 to 5) packed activation rows against pairs of weight rows, each loaded (and widened) once for all N.</summary>
    private static void Tile2xN<T, N>(byte* x, float* xs, Matrix w, float* bias, float* y, int t0, int t1, bool prefetch, int limit)
        where T : struct, IIntegerIsa where N : struct, Kernels.IRowCount
    {
        var pair = stackalloc int[Kernels.Slots];
        int k = w.Cols, n = w.Rows;
        var rowScales = RowScales(xs, N.Value);
        for (var o = t0; o < t1; o += 2)
        {
            var wr = (sbyte*)w.Data + (long)o * k;
            if (t1 - o == 1)
            {
                // An odd last weight row goes through the same kernel paired with itself; only its own results are kept.
                Dot2xN<T, N>(wr, wr, x, k, pair, 0);
                for (var i = 0; i < N.Value; i++) y[(long)i * n + o] = Finish<T>(pair[Kernels.Slot(i, 0)], w, o, xs[i], bias);
                continue;
            }
            Pair<T, N>(wr, x, pair, prefetch && o + 3 < limit ? 2L * k : 0, w, o, rowScales, xs, bias, y);
        }
    }

    /// <summary>The first four rows' scales in <see cref="Pair"/>'s order of results (each row's two outputs side by side), so
    /// each row's scale appears twice.</summary>
    private static Vector256<float> RowScales(float* xs, int count) => Vector256.Create(
        xs[0], xs[0], count > 1 ? xs[1] : 0, count > 1 ? xs[1] : 0, count > 2 ? xs[2] : 0, count > 2 ? xs[2] : 0, count > 3 ? xs[3] : 0, count > 3 ? xs[3] : 0);

    /// <summary>Weight rows o and o + 1 (at <paramref name="wr"/>) against N packed activation rows, finished into y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair<T, N>(sbyte* wr, byte* x, int* pair, long ahead, Matrix w, int o, Vector256<float> rowScales, float* xs, float* bias, float* y)
        where T : struct, IIntegerIsa where N : struct, Kernels.IRowCount
    {
        Dot2xN<T, N>(wr, wr + w.Cols, x, w.Cols, pair, ahead);
        FinishPair<T, N>(pair, w, o, rowScales, xs, bias, y);
    }

    /// <summary>Weight rows o and o + 1's dot products with N rows (<paramref name="pair"/>, in <see cref="Kernels.Slot"/>
    /// order), finished into y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishPair<T, N>(int* pair, Matrix w, int o, Vector256<float> rowScales, float* xs, float* bias, float* y)
        where T : struct, IIntegerIsa where N : struct, Kernels.IRowCount
    {
        var n = w.Rows;
        // Finish's arithmetic, in its order, on both weight rows' results for four activation rows at once.
        var values = Avx.ConvertToVector256Single(Vector256.Load(pair) - Vector256.Create(*(long*)(w.RowSums + o)).AsInt32() * T.Offset)
            * (Vector256.Create(*(double*)(w.Scales + o)).AsSingle() * rowScales)
            + (bias == null ? Vector256<float>.Zero : Vector256.Create(*(double*)(bias + o)).AsSingle());
        var outputs = values.AsDouble();
        for (var i = 0; i < Math.Min(N.Value, 4); i++) *(double*)(y + (long)i * n + o) = outputs.GetElement(i);
        if (N.Value > 4)
        {
            y[4L * n + o] = Finish<T>(pair[Kernels.Slot(4, 0)], w, o, xs[4], bias);
            y[4L * n + o + 1] = Finish<T>(pair[Kernels.Slot(4, 1)], w, o + 1, xs[4], bias);
        }
    }

    /// <summary>Four weight rows <paramref name="rowStep"/> bytes apart against one activation row; two accumulators per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x1<T>(sbyte* w, long rowStep, byte* x, int k, int* result) where T : struct, IIntegerIsa
    {
        sbyte* w0 = w, w1 = w + rowStep, w2 = w + 2 * rowStep, w3 = w + 3 * rowStep;
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<int> b0 = default, b1 = default, b2 = default, b3 = default;
        var i = 0;
        for (; i + 2 * Chunk <= k; i += 2 * Chunk)
        {
            // Sixty-four weights are one cache line.
            Kernels.PrefetchStreams((byte*)w0, (byte*)w1, (byte*)w2, (byte*)w3, i + Kernels.StreamPrefetchBytes);
            var xv = T.LoadActivations(x + i * T.ElementSize);
            a0 = T.MultiplyAdd(a0, T.LoadWeights(w0 + i), xv);
            a1 = T.MultiplyAdd(a1, T.LoadWeights(w1 + i), xv);
            a2 = T.MultiplyAdd(a2, T.LoadWeights(w2 + i), xv);
            a3 = T.MultiplyAdd(a3, T.LoadWeights(w3 + i), xv);
            xv = T.LoadActivations(x + (i + Chunk) * T.ElementSize);
            b0 = T.MultiplyAdd(b0, T.LoadWeights(w0 + i + Chunk), xv);
            b1 = T.MultiplyAdd(b1, T.LoadWeights(w1 + i + Chunk), xv);
            b2 = T.MultiplyAdd(b2, T.LoadWeights(w2 + i + Chunk), xv);
            b3 = T.MultiplyAdd(b3, T.LoadWeights(w3 + i + Chunk), xv);
        }
        for (; i + Chunk <= k; i += Chunk)
        {
            var xv = T.LoadActivations(x + i * T.ElementSize);
            a0 = T.MultiplyAdd(a0, T.LoadWeights(w0 + i), xv);
            a1 = T.MultiplyAdd(a1, T.LoadWeights(w1 + i), xv);
            a2 = T.MultiplyAdd(a2, T.LoadWeights(w2 + i), xv);
            a3 = T.MultiplyAdd(a3, T.LoadWeights(w3 + i), xv);
        }
        result[0] = Vector256.Sum(a0 + b0);
        result[1] = Vector256.Sum(a1 + b1);
        result[2] = Vector256.Sum(a2 + b2);
        result[3] = Vector256.Sum(a3 + b3);
        // A row of one block is laid out like the row itself, so element i of the tail is at i.
        for (; i < k; i++)
        {
            var xe = T.Load1(x + i * T.ElementSize);
            result[0] += w0[i] * xe;
            result[1] += w1[i] * xe;
            result[2] += w2[i] * xe;
            result[3] += w3[i] * xe;
        }
    }

    /// <summary>result[Kernels.Slot(r, j)] = w_j · x_r for two weight rows and N packed activation rows: each activation row's
    /// two results side by side, as adjacent outputs of <see cref="Tile2xN"/>.</summary>
    /// <param name="ahead">When not 0, the bytes from each row to the one to prefetch alongside (the next pair).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot2xN<T, N>(sbyte* w0, sbyte* w1, byte* x, int k, int* result, long ahead)
        where T : struct, IIntegerIsa where N : struct, Kernels.IRowCount
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default;
        Vector256<int> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default;
        var row = Chunk * T.ElementSize;
        var chunk = x;
        var i = 0;
        for (; i + Chunk <= k; i += Chunk, chunk += N.Value * row)
        {
            if (ahead != 0)
            {
                Sse.Prefetch0(w0 + ahead + i);
                Sse.Prefetch0(w1 + ahead + i);
            }
            var v = T.LoadWeights(w0 + i);
            var u = T.LoadWeights(w1 + i);
            var xv = T.LoadActivations(chunk);
            a0 = T.MultiplyAdd(a0, v, xv);
            b0 = T.MultiplyAdd(b0, u, xv);
            if (N.Value > 1)
            {
                xv = T.LoadActivations(chunk + row);
                a1 = T.MultiplyAdd(a1, v, xv);
                b1 = T.MultiplyAdd(b1, u, xv);
            }
            if (N.Value > 2)
            {
                xv = T.LoadActivations(chunk + 2 * row);
                a2 = T.MultiplyAdd(a2, v, xv);
                b2 = T.MultiplyAdd(b2, u, xv);
            }
            if (N.Value > 3)
            {
                xv = T.LoadActivations(chunk + 3 * row);
                a3 = T.MultiplyAdd(a3, v, xv);
                b3 = T.MultiplyAdd(b3, u, xv);
            }
            if (N.Value > 4)
            {
                xv = T.LoadActivations(chunk + 4 * row);
                a4 = T.MultiplyAdd(a4, v, xv);
                b4 = T.MultiplyAdd(b4, u, xv);
            }
        }
        StoreSums(a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, result);
        AddPartialChunk<T, N>(w0, w1, chunk, i, k, result);
    }

    /// <summary>Each accumulator's lanes summed into result[Kernels.Slot(r, j)] (a for weight row 0, b for row 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSums(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3, Vector256<int> a4,
        Vector256<int> b0, Vector256<int> b1, Vector256<int> b2, Vector256<int> b3, Vector256<int> b4, int* result)
    {
        // Eight sums in one transposing tree of horizontal adds: each add leaves, per 128-bit half, pair sums of both
        // operands; three levels give both halves' partial sums of four accumulators, and the halves are then added.
        var low = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, b0), Avx2.HorizontalAdd(a1, b1));
        var high = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a2, b2), Avx2.HorizontalAdd(a3, b3));
        (Avx2.Permute2x128(low, high, 0x20) + Avx2.Permute2x128(low, high, 0x31)).Store(result);
        result[Kernels.Slot(4, 0)] = Vector256.Sum(a4);
        result[Kernels.Slot(4, 1)] = Vector256.Sum(b4);
    }

    /// <summary>Adds elements [i, k) of the last, partly filled chunk (at <paramref name="chunk"/>, which holds the row's last
    /// k % 32 elements) to the N rows' sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPartialChunk<T, N>(sbyte* w0, sbyte* w1, byte* chunk, int i, int k, int* result)
        where T : struct, IIntegerIsa where N : struct, Kernels.IRowCount
    {
        for (; i < k; i++)
            for (var r = 0; r < N.Value; r++)
            {
                var xe = T.Load1(chunk + (r * Chunk + i % Chunk) * T.ElementSize);
                result[Kernels.Slot(r, 0)] += w0[i] * xe;
                result[Kernels.Slot(r, 1)] += w1[i] * xe;
            }
    }

    /// <summary>32 weights or activations as an integer path holds them in registers (VNNI uses <see cref="Low"/> only).</summary>
    private readonly struct Operand(Vector256<byte> low, Vector256<byte> high)
    {
        public Vector256<byte> Low { get; } = low;

        public Vector256<byte> High { get; } = high;
    }

    /// <summary>How an integer path stores quantized activations and multiplies 32 of them by 32 weights.</summary>
    private interface IIntegerIsa
    {
        /// <summary>Added to each stored activation (its sum against a weight row is subtracted again in <see cref="Finish"/>).</summary>
        static abstract int Offset { get; }

        /// <summary>Bytes per stored activation.</summary>
        static abstract int ElementSize { get; }

        static abstract void Store(byte* target, int q);

        /// <summary>Stores 32 quantized activations.</summary>
        static abstract void Store32(byte* target, Vector256<sbyte> q);

        /// <summary>A stored activation, offset included.</summary>
        static abstract int Load1(byte* source);

        static abstract Operand LoadWeights(sbyte* w);

        static abstract Operand LoadActivations(byte* x);

        static abstract Vector256<int> MultiplyAdd(Vector256<int> sum, Operand w, Operand x);
    }

    /// <summary>vpdpbusd multiplies unsigned by signed bytes, so activations are stored as q + 128 (0..255) and the weights
    /// stay signed; Σ (q + 128)·w = Σ q·w + 128·Σ w, and Σ w is the matrix's precomputed row sum.</summary>
    private readonly struct Vnni : IIntegerIsa
    {
        public static int Offset => 128;

        public static int ElementSize => 1;

        public static void Store(byte* target, int q) => *target = (byte)(q + 128);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store32(byte* target, Vector256<sbyte> q) => (q.AsByte() ^ Vector256.Create((byte)0x80)).Store(target);

        public static int Load1(byte* source) => *source;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Operand LoadWeights(sbyte* w) => new(Avx.LoadVector256((byte*)w), default);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Operand LoadActivations(byte* x) => new(Avx.LoadVector256(x), default);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAdd(Vector256<int> sum, Operand w, Operand x) =>
            AvxVnni.MultiplyWideningAndAdd(sum, x.Low, w.Low.AsSByte());
    }

    /// <summary>vpmaddwd on 16-bit values: weights sign-extended once per chunk, activations stored as int16. vpmaddubsw
    /// on bytes would saturate its 16-bit pair sums (2 · 127 · 255 > 32767) unless each pair's signs were fixed up first,
    /// which costs the instruction it saves.</summary>
    private readonly struct Words : IIntegerIsa
    {
        public static int Offset => 0;

        public static int ElementSize => 2;

        public static void Store(byte* target, int q) => *(short*)target = (short)q;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store32(byte* target, Vector256<sbyte> q)
        {
            var (low, high) = Vector256.Widen(q);
            low.Store((short*)target);
            high.Store((short*)target + 16);
        }

        public static int Load1(byte* source) => *(short*)source;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Operand LoadWeights(sbyte* w) =>
            new(Avx2.ConvertToVector256Int16(w).AsByte(), Avx2.ConvertToVector256Int16(w + 16).AsByte());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Operand LoadActivations(byte* x) => new(Avx.LoadVector256(x), Avx.LoadVector256(x + 32));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyAdd(Vector256<int> sum, Operand w, Operand x) =>
            sum + Avx2.MultiplyAddAdjacent(w.Low.AsInt16(), x.Low.AsInt16()) + Avx2.MultiplyAddAdjacent(w.High.AsInt16(), x.High.AsInt16());
    }
}
