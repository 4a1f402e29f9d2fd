using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Products of many activation rows (prefill, large decode batches) with f32, f16 or bf16 weights, structured as a
/// GotoBLAS/BLIS GEMM: the activations are packed once per call into panels of one vector of rows, weights stay in the
/// checkpoint's layout and are widened per call into a per-thread block the size of L2, and a microkernel keeps a block of
/// (two vectors of rows) × (<see cref="Columns"/> weight rows) of the result in registers while it streams the depth.</summary>
/// <remarks>The vectors run along activation rows, so a weight is broadcast from the widened block, where the
/// <see cref="Columns"/> weight rows lie <see cref="TileStride"/> floats apart: the broadcasts are loads at constant offsets from
/// one pointer (folded into the FMA as an embedded broadcast under AVX-512), and widening is a contiguous copy rather than
/// a transpose. The result block is accumulated in a per-thread transposed buffer (one column of rows per weight row) and
/// written to y once per column block. docs/engine.md gives the layout decision.</remarks>
internal static unsafe class Gemm
{
    /// <summary>512-bit microkernel where AVX-512 is enabled (<see cref="Kernels.Wide"/>): 32 vector registers hold 24
    /// accumulators (2 × 12), two activation vectors and the broadcast weight. Otherwise 256-bit with 16 registers: 12
    /// accumulators (2 × 6).</summary>
    private static bool Wide => Kernels.Wide;

    /// <summary>The microkernel runs wherever the vectorised float kernels do.</summary>
    public static bool IsSupported => Kernels.Vectorized;

    /// <summary>Activation rows from which <see cref="Kernels.MatMul"/> takes this kernel for float weights of a type. Below
    /// it the blocked kernels' streams read the weights better than the widening pass here. Interleaved on a decode step's
    /// matrices (26 Nov, docs/engine.md run 10), the GEMM against the blocked kernels measured, with AVX-512: f32 0.85× at
    /// 32 rows, 1.03× at 48, 1.35× at 200; f16 (whose blocked kernel reads half the bytes) 0.66× at 32, 0.98× at 96,
    /// 1.03-1.06× from 128. With 256-bit vectors: f32 0.89× at 64, 1.05× at 128; f16 0.95× at 32, 1.02× at 64, 1.12× at 128.</summary>
    public static int MinRows(WeightType type) => (Wide, type) switch
    {
        (true, WeightType.F32) => 48,
        (true, _) => 128,
        (false, WeightType.F32) => 128,
        (false, _) => 64,
    };

    /// <summary>Activation rows per packed panel: one vector.</summary>
    private static readonly int Panel = Wide ? 16 : 8;

    /// <summary>Weight rows per microkernel block (the broadcast side).</summary>
    private static readonly int Columns = Wide ? 12 : 6;

    /// <summary>Depth (k) per widened block: a 1,024-wide matrix (q, k, v, the attention output and fc_in of the mid-size
    /// model) is one block, so the microkernel's sums stay in registers for the whole product. On one mid-size decode
    /// step's matrices at 200 rows (2-core VM, 26 Nov evening), the GEMM ran at 169.5-171.0 G multiply-adds/s (f32) and
    /// 176.2-178.4 (f16) with 256-deep blocks of 240 rows, 164.5 and 165-169 with 128, 172.7-175.3 and 183.6-184.2 with
    /// 512, and 188.7-188.9 and 192.1-193.4 now.</summary>
    internal const int Depth = 1024;

    /// <summary>Floats from one widened weight row to the next: a cache line more than <see cref="Depth"/>, so the 12 rows a
    /// microkernel broadcasts from do not all fall into one L1 set at 4 KiB apart (184.5-186.9 and 188.9-191.1 G/s
    /// without it). A constant, so the broadcast offsets j · TileStride are immediates.</summary>
    private const int TileStride = Depth + 16;

    /// <summary>Weight rows widened together per depth block: 120 × 1,040 floats = 488 KiB, in L2 (a multiple of 12 and 6).</summary>
    private const int BlockColumns = 120;

    /// <summary>Multiply-adds below which a call is not split across threads.</summary>
    private const long SerialWork = 1 << 17;

    /// <summary>Work items a call aims for per core. Items are claimed one by one, so a core that finishes early takes the
    /// next; the last round is ragged by at most one item. With about three items per core (one product at a time, 43-64
    /// bands for 16 cores) that round cost up to a tenth of the time; at eight, with the largest items first, the items
    /// left for it are the small ones.</summary>
    private const int ItemsPerCore = 8;

    [ThreadStatic]
    private static float[]? widened;

    [ThreadStatic]
    private static float[]? accumulators;

    /// <summary>y[r, o] = Σ_i x[r, i] · w[o, i] (+ bias[o]) for r &lt; rows; f32, f16 or bf16 weights.</summary>
    public static void MatMul(ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y)
    {
        if (y.Length < rows * w.Rows) throw new ArgumentException("matrix product operands are too small");
        fixed (float* yp = y, bp = bias) MatMul(x, rows, [new Kernels.Target(w, bp, yp)]);
    }

    /// <summary>Several products of the same activations: the activations are packed once, and the items of all products
    /// (bands of output columns, and where there are too few of those, halves or smaller parts of the rows) make one
    /// parallel loop. The targets' outputs hold at least rows × their weight rows.</summary>
    internal static void MatMul(ReadOnlySpan<float> x, int rows, Kernels.Target[] targets)
    {
        var k = targets[0].Weights.Cols;
        foreach (var target in targets) Check(target.Weights, k, nameof(targets));
        if (rows < 1 || x.Length < rows * k) throw new ArgumentException("matrix product operands are too small");
        var panels = (rows + Panel - 1) / Panel;
        var packed = ArrayPool<float>.Shared.Rent(panels * Panel * k);
        try
        {
            fixed (float* xp = x, pp = packed)
            {
                nint xa = (nint)xp, pa = (nint)pp;
                KernelThreads.For(panels, p => PackPanel((float*)xa, rows, k, p, (float*)pa));
                Run(rows, [.. targets.Select(target => new Sum([new Term(pa, target.Weights)], target.Bias, target.Output, add: false))]);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    /// <summary>y[r, o] += Σ_i a[r, i] · wa[o, i] + Σ_j b[r, j] · wb[o, j] + bias[o] for r &lt; rows: two products of different
    /// activations into the same columns, summed in the microkernel's accumulators and added to y once, as one parallel
    /// loop. Both weights have the same float type and as many rows as y has columns.</summary>
    public static void AddMatMuls(Span<float> y, int rows, ReadOnlySpan<float> a, Matrix wa, ReadOnlySpan<float> b, Matrix wb, float[]? bias)
    {
        Check(wa, wa.Cols, nameof(wa));
        Check(wb, wb.Cols, nameof(wb));
        int n = wa.Rows, ka = wa.Cols, kb = wb.Cols;
        if (wb.Rows != n || wb.Type != wa.Type) throw new ArgumentException("both products need weights of one type and as many rows", nameof(wb));
        if (rows < 1 || a.Length < rows * ka || b.Length < rows * kb || y.Length < rows * n || (bias != null && bias.Length < n))
            throw new ArgumentException("matrix product operands are too small");
        var panels = (rows + Panel - 1) / Panel;
        var packed = ArrayPool<float>.Shared.Rent(panels * Panel * (ka + kb));
        try
        {
            fixed (float* ap = a, bp = b, yp = y, biasp = bias, pp = packed)
            {
                nint aa = (nint)ap, ba = (nint)bp, pa = (nint)pp, pb = (nint)(pp + (long)panels * Panel * ka);
                KernelThreads.For(2 * panels, p =>
                {
                    if (p < panels) PackPanel((float*)aa, rows, ka, p, (float*)pa);
                    else PackPanel((float*)ba, rows, kb, p - panels, (float*)pb);
                });
                Run(rows, [new Sum([new Term(pa, wa), new Term(pb, wb)], biasp, yp, add: true)]);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    private static void Check(Matrix w, int k, string name)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("the GEMM microkernel needs AVX2 and FMA");
        if (w.Type is not (WeightType.F32 or WeightType.F16 or WeightType.BF16)) throw new ArgumentException($"the GEMM takes float weights, not {w.Type}", name);
        if (w.Cols != k) throw new ArgumentException("products of one input need weights of its width", name);
    }

    /// <summary>One product inside a <see cref="Sum"/>: activations packed into panels, and weights as wide as they are.</summary>
    private readonly record struct Term(nint Packed, Matrix Weights);

    /// <summary>One output of a call: the sum of its terms' products (weights of one type and row count) and the bias,
    /// written to the output ([rows, weight rows]) or, with <paramref name="add"/>, added to what it holds.</summary>
    private sealed class Sum(Term[] terms, float* bias, float* output, bool add)
    {
        public Term[] Terms { get; } = terms;

        public float* Bias { get; } = bias;

        public float* Output { get; } = output;

        public bool Add { get; } = add;

        public int Columns => Terms[0].Weights.Rows;

        public long Depth => Terms.Sum(term => (long)term.Weights.Cols);
    }

    /// <summary>Runs a call's items: in one parallel loop, or on the caller when the call is too small to repay waking
    /// threads (one item per output).</summary>
    private static void Run(int rows, Sum[] sums)
    {
        var panels = (rows + Panel - 1) / Panel;
        var serial = sums.Sum(sum => (long)rows * sum.Columns * sum.Depth) < SerialWork;
        var items = Plan(panels, sums, serial ? 1 : Environment.ProcessorCount * ItemsPerCore);
        void Item(int i)
        {
            var (s, o0, o1, p0, p1) = items[i];
            switch (sums[s].Terms[0].Weights.Type)
            {
                case WeightType.F32: Band<Kernels.F32>(sums[s], rows, o0, o1, p0, p1); break;
                case WeightType.F16: Band<Kernels.F16>(sums[s], rows, o0, o1, p0, p1); break;
                default: Band<Kernels.BF16>(sums[s], rows, o0, o1, p0, p1); break;
            }
        }
        if (serial)
            for (var i = 0; i < items.Length; i++) Item(i);
        else
            KernelThreads.For(items.Length, Item);
    }

    /// <summary>One work item: output columns [O0, O1) of sum S for row panels [P0, P1).</summary>
    private readonly record struct WorkItem(int S, int O0, int O1, int P0, int P1);

    /// <summary>Cuts a call into about <paramref name="wanted"/> items, largest first: bands of whole microkernel groups of
    /// the same width in every output, and, when the outputs have fewer groups than that (the attention output on 16
    /// cores has 86), parts of an even number of panels, each of which widens its band's weights again.</summary>
    private static WorkItem[] Plan(int panels, Sum[] sums, int wanted)
    {
        var columns = Columns;
        long groups = sums.Sum(sum => (long)(sum.Columns + columns - 1) / columns);
        var band = (int)Math.Max(1, groups / wanted) * columns;
        var columnItems = sums.Sum(sum => (sum.Columns + band - 1) / band);
        var pairs = (panels + 1) / 2;
        var parts = Math.Clamp((wanted + columnItems - 1) / columnItems, 1, pairs);
        var part = (pairs + parts - 1) / parts * 2;
        var items = new List<WorkItem>();
        for (var s = 0; s < sums.Length; s++)
            for (var o0 = 0; o0 < sums[s].Columns; o0 += band)
                for (var p0 = 0; p0 < panels; p0 += part)
                    items.Add(new WorkItem(s, o0, Math.Min(sums[s].Columns, o0 + band), p0, Math.Min(panels, p0 + part)));
        // Largest first, so that what is left for the last round is small.
        return [.. items.OrderByDescending(item => (item.O1 - item.O0) * (item.P1 - item.P0) * sums[item.S].Depth)];
    }

    /// <summary>Panel p holds rows p·Panel .. p·Panel + Panel - 1 transposed: element (i, r) at i · Panel + r, rows past
    /// the last zero, so the microkernel loads one vector of rows per depth step.</summary>
    private static void PackPanel(float* x, int rows, int k, int p, float* packed)
    {
        var panel = Panel;
        var target = packed + (long)p * k * panel;
        // Eight rows by eight columns at a time, transposed in registers: element by element every write was a cache line.
        for (var r0 = 0; r0 < panel; r0 += 8)
        {
            var first = p * panel + r0;
            var i = 0;
            for (; i + 8 <= k; i += 8)
            {
                var s = x + (long)first * k + i;
                Vector256<float> v0 = Row(s, first, rows), v1 = Row(s + k, first + 1, rows), v2 = Row(s + 2L * k, first + 2, rows), v3 = Row(s + 3L * k, first + 3, rows);
                Vector256<float> v4 = Row(s + 4L * k, first + 4, rows), v5 = Row(s + 5L * k, first + 5, rows), v6 = Row(s + 6L * k, first + 6, rows), v7 = Row(s + 7L * k, first + 7, rows);
                Transpose8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                var t = target + (long)i * panel + r0;
                v0.Store(t);
                v1.Store(t + panel);
                v2.Store(t + 2 * panel);
                v3.Store(t + 3 * panel);
                v4.Store(t + 4 * panel);
                v5.Store(t + 5 * panel);
                v6.Store(t + 6 * panel);
                v7.Store(t + 7 * panel);
            }
            for (; i < k; i++)
                for (var r = 0; r < 8; r++) target[(long)i * panel + r0 + r] = first + r < rows ? x[(long)(first + r) * k + i] : 0f;
        }
    }

    /// <summary>Eight columns of activation row <paramref name="row"/> (at <paramref name="source"/>), zeros past the last row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(float* source, int row, int rows) => row < rows ? Vector256.Load(source) : Vector256<float>.Zero;

    /// <summary>Transposes the 8 × 8 block whose rows are v0..v7: pairs interleaved, then quads, then 128-bit halves swapped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref Vector256<float> v0, ref Vector256<float> v1, ref Vector256<float> v2, ref Vector256<float> v3,
        ref Vector256<float> v4, ref Vector256<float> v5, ref Vector256<float> v6, ref Vector256<float> v7)
    {
        Vector256<float> t0 = Avx.UnpackLow(v0, v1), t1 = Avx.UnpackHigh(v0, v1), t2 = Avx.UnpackLow(v2, v3), t3 = Avx.UnpackHigh(v2, v3);
        Vector256<float> t4 = Avx.UnpackLow(v4, v5), t5 = Avx.UnpackHigh(v4, v5), t6 = Avx.UnpackLow(v6, v7), t7 = Avx.UnpackHigh(v6, v7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        v0 = Avx.Permute2x128(u0, u4, 0x20);
        v1 = Avx.Permute2x128(u1, u5, 0x20);
        v2 = Avx.Permute2x128(u2, u6, 0x20);
        v3 = Avx.Permute2x128(u3, u7, 0x20);
        v4 = Avx.Permute2x128(u0, u4, 0x31);
        v5 = Avx.Permute2x128(u1, u5, 0x31);
        v6 = Avx.Permute2x128(u2, u6, 0x31);
        v7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>Output columns [o0, o1) for the rows of panels [p0, p1): per block of <see cref="BlockColumns"/> weight rows,
    /// and per term and depth block, widen the weights once, then run every pair of row panels against every group of
    /// weight rows; the terms accumulate into the same sums.</summary>
    private static void Band<T>(Sum sum, int rows, int o0, int o1, int p0, int p1) where T : struct, Kernels.IWeightFormat
    {
        int panel = Panel, columns = Columns;
        var height = (p1 - p0) * panel;
        if (widened == null) widened = new float[BlockColumns * TileStride];
        if (accumulators == null || accumulators.Length < BlockColumns * height) accumulators = new float[BlockColumns * height];
        fixed (float* tiles = widened, sums = accumulators)
        {
            for (var c0 = o0; c0 < o1; c0 += BlockColumns)
            {
                var c1 = Math.Min(o1, c0 + BlockColumns);
                // Whole groups; weight rows past the matrix's last are zero and their results are never written out.
                var width = (c1 - c0 + columns - 1) / columns * columns;
                for (var term = 0; term < sum.Terms.Length; term++)
                {
                    var (packed, w) = (sum.Terms[term].Packed, sum.Terms[term].Weights);
                    var k = w.Cols;
                    for (var d0 = 0; d0 < k; d0 += Depth)
                    {
                        var depth = Math.Min(Depth, k - d0);
                        var accumulate = term > 0 || d0 > 0;
                        Widen<T>(w, c0, c1, width, d0, depth, tiles);
                        for (var p = p0; p < p1; p += 2)
                        {
                            var a = (float*)packed + ((long)p * k + d0) * panel;
                            var pair = p + 1 < p1;
                            for (var g = 0; g < width; g += columns)
                            {
                                var c = sums + (long)g * height + (p - p0) * panel;
                                var t = tiles + (long)g * TileStride;
                                if (Wide)
                                {
                                    if (pair) Micro512<Kernels.Two>(a, (long)k * panel, t, depth, c, height, accumulate);
                                    else Micro512<Kernels.One>(a, 0, t, depth, c, height, accumulate);
                                }
                                else
                                {
                                    if (pair) Micro256<Kernels.Two>(a, (long)k * panel, t, depth, c, height, accumulate);
                                    else Micro256<Kernels.One>(a, 0, t, depth, c, height, accumulate);
                                }
                            }
                        }
                    }
                }
                WriteOut(sums, height, p0 * panel, Math.Min(rows, p1 * panel), c0, c1, sum.Bias, sum.Output, sum.Columns, sum.Add);
            }
        }
    }

    /// <summary>y[r, o] = sums[(o - c0) · height + r - r0] + bias[o] (or y[r, o] += that, with <paramref name="add"/>) for rows
    /// [r0, r1) and the block's columns [c0, c1).</summary>
    /// <remarks>The sums are held one column of rows per weight row, y one row of columns per activation row. Read element
    /// by element, either side is strided (a cache line per element): that write-out was a tenth of a 200-token f32
    /// prefill. Blocks of eight rows by eight columns are transposed in registers instead.</remarks>
    private static void WriteOut(float* sums, int height, int r0, int r1, int c0, int c1, float* bias, float* y, int n, bool add)
    {
        var r = r0;
        for (; r + 8 <= r1; r += 8)
        {
            var o = c0;
            for (; o + 8 <= c1; o += 8)
            {
                var s = sums + (long)(o - c0) * height + r - r0;
                var b = bias == null ? Vector256<float>.Zero : Vector256.Load(bias + o);
                Vector256<float> v0 = Vector256.Load(s), v1 = Vector256.Load(s + height), v2 = Vector256.Load(s + 2L * height), v3 = Vector256.Load(s + 3L * height);
                Vector256<float> v4 = Vector256.Load(s + 4L * height), v5 = Vector256.Load(s + 5L * height), v6 = Vector256.Load(s + 6L * height), v7 = Vector256.Load(s + 7L * height);
                Transpose8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                var yr = y + (long)r * n + o;
                Put(yr, v0 + b, add);
                Put(yr + n, v1 + b, add);
                Put(yr + 2L * n, v2 + b, add);
                Put(yr + 3L * n, v3 + b, add);
                Put(yr + 4L * n, v4 + b, add);
                Put(yr + 5L * n, v5 + b, add);
                Put(yr + 6L * n, v6 + b, add);
                Put(yr + 7L * n, v7 + b, add);
            }
            for (; o < c1; o++)
                for (var i = r; i < r + 8; i++) Put(y + (long)i * n + o, sums[(long)(o - c0) * height + i - r0] + (bias == null ? 0f : bias[o]), add);
        }
        for (; r < r1; r++)
            for (var o = c0; o < c1; o++) Put(y + (long)r * n + o, sums[(long)(o - c0) * height + r - r0] + (bias == null ? 0f : bias[o]), add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* target, Vector256<float> value, bool add) => (add ? Vector256.Load(target) + value : value).Store(target);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* target, float value, bool add) => *target = add ? *target + value : value;

    /// <summary>Weight rows [c0, c1), depth [d0, d0 + depth) as floats, row j of the block at tiles + j · TileStride; rows up to
    /// <paramref name="width"/> past c1 are zero.</summary>
    private static void Widen<T>(Matrix w, int c0, int c1, int width, int d0, int depth, float* tiles) where T : struct, Kernels.IWeightFormat
    {
        for (var o = c0; o < c0 + width; o++)
        {
            var target = tiles + (long)(o - c0) * TileStride;
            if (o >= c1)
            {
                new Span<float>(target, depth).Clear();
                continue;
            }
            var source = w.Data + (long)o * w.RowBytes + (long)d0 * T.Size;
            // The GEMM packs its activations unscaled, so the loads' power of two comes off here, with the row's scale.
            var unit = T.ActivationScale * T.SumScale * (w.Scales == null ? 1f : w.Scales[o]);
            var i = 0;
            for (; i + 8 <= depth; i += 8) (T.Load8(source, i) * unit).Store(target + i);
            for (; i < depth; i++) target[i] = T.Load1(source, i) * unit;
        }
    }

    /// <summary>c[j · ldc + r] (+)= Σ_i a[i, r] · t[j · TileStride + i] for 12 weight rows j and one or two panels of 16 rows r,
    /// the second panel <paramref name="second"/> floats after the first.</summary>
    private static void Micro512<V>(float* a, long second, float* t, int depth, float* c, int ldc, bool accumulate) where V : struct, Kernels.IRowCount
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default;
        Vector512<float> b6 = default, b7 = default, b8 = default, b9 = default, b10 = default, b11 = default;
        var two = V.Value > 1;
        if (accumulate)
        {
            Load(c, ldc, 0, two, ref a0, ref b0);
            Load(c, ldc, 1, two, ref a1, ref b1);
            Load(c, ldc, 2, two, ref a2, ref b2);
            Load(c, ldc, 3, two, ref a3, ref b3);
            Load(c, ldc, 4, two, ref a4, ref b4);
            Load(c, ldc, 5, two, ref a5, ref b5);
            Load(c, ldc, 6, two, ref a6, ref b6);
            Load(c, ldc, 7, two, ref a7, ref b7);
            Load(c, ldc, 8, two, ref a8, ref b8);
            Load(c, ldc, 9, two, ref a9, ref b9);
            Load(c, ldc, 10, two, ref a10, ref b10);
            Load(c, ldc, 11, two, ref a11, ref b11);
        }
        for (var i = 0; i < depth; i++, a += 16, t++)
        {
            var x = Vector512.Load(a);
            var z = V.Value > 1 ? Vector512.Load(a + second) : default;
            Step<V>(x, z, t[0], ref a0, ref b0);
            Step<V>(x, z, t[TileStride], ref a1, ref b1);
            Step<V>(x, z, t[2 * TileStride], ref a2, ref b2);
            Step<V>(x, z, t[3 * TileStride], ref a3, ref b3);
            Step<V>(x, z, t[4 * TileStride], ref a4, ref b4);
            Step<V>(x, z, t[5 * TileStride], ref a5, ref b5);
            Step<V>(x, z, t[6 * TileStride], ref a6, ref b6);
            Step<V>(x, z, t[7 * TileStride], ref a7, ref b7);
            Step<V>(x, z, t[8 * TileStride], ref a8, ref b8);
            Step<V>(x, z, t[9 * TileStride], ref a9, ref b9);
            Step<V>(x, z, t[10 * TileStride], ref a10, ref b10);
            Step<V>(x, z, t[11 * TileStride], ref a11, ref b11);
        }
        Store(c, ldc, 0, two, a0, b0);
        Store(c, ldc, 1, two, a1, b1);
        Store(c, ldc, 2, two, a2, b2);
        Store(c, ldc, 3, two, a3, b3);
        Store(c, ldc, 4, two, a4, b4);
        Store(c, ldc, 5, two, a5, b5);
        Store(c, ldc, 6, two, a6, b6);
        Store(c, ldc, 7, two, a7, b7);
        Store(c, ldc, 8, two, a8, b8);
        Store(c, ldc, 9, two, a9, b9);
        Store(c, ldc, 10, two, a10, b10);
        Store(c, ldc, 11, two, a11, b11);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<V>(Vector512<float> x, Vector512<float> z, float weight, ref Vector512<float> a, ref Vector512<float> b) where V : struct, Kernels.IRowCount
    {
        var v = Vector512.Create(weight);
        a = Avx512F.FusedMultiplyAdd(x, v, a);
        if (V.Value > 1) b = Avx512F.FusedMultiplyAdd(z, v, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(float* c, int ldc, int j, bool two, ref Vector512<float> a, ref Vector512<float> b)
    {
        a = Vector512.Load(c + (long)j * ldc);
        if (two) b = Vector512.Load(c + (long)j * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, int ldc, int j, bool two, Vector512<float> a, Vector512<float> b)
    {
        a.Store(c + (long)j * ldc);
        if (two) b.Store(c + (long)j * ldc + 16);
    }

    /// <summary><see cref="Micro512"/> for AVX2: 6 weight rows and one or two panels of 8 rows.</summary>
    private static void Micro256<V>(float* a, long second, float* t, int depth, float* c, int ldc, bool accumulate) where V : struct, Kernels.IRowCount
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default;
        var two = V.Value > 1;
        if (accumulate)
        {
            Load(c, ldc, 0, two, ref a0, ref b0);
            Load(c, ldc, 1, two, ref a1, ref b1);
            Load(c, ldc, 2, two, ref a2, ref b2);
            Load(c, ldc, 3, two, ref a3, ref b3);
            Load(c, ldc, 4, two, ref a4, ref b4);
            Load(c, ldc, 5, two, ref a5, ref b5);
        }
        for (var i = 0; i < depth; i++, a += 8, t++)
        {
            var x = Vector256.Load(a);
            var z = V.Value > 1 ? Vector256.Load(a + second) : default;
            Step<V>(x, z, t[0], ref a0, ref b0);
            Step<V>(x, z, t[TileStride], ref a1, ref b1);
            Step<V>(x, z, t[2 * TileStride], ref a2, ref b2);
            Step<V>(x, z, t[3 * TileStride], ref a3, ref b3);
            Step<V>(x, z, t[4 * TileStride], ref a4, ref b4);
            Step<V>(x, z, t[5 * TileStride], ref a5, ref b5);
        }
        Store(c, ldc, 0, two, a0, b0);
        Store(c, ldc, 1, two, a1, b1);
        Store(c, ldc, 2, two, a2, b2);
        Store(c, ldc, 3, two, a3, b3);
        Store(c, ldc, 4, two, a4, b4);
        Store(c, ldc, 5, two, a5, b5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<V>(Vector256<float> x, Vector256<float> z, float weight, ref Vector256<float> a, ref Vector256<float> b) where V : struct, Kernels.IRowCount
    {
        var v = Vector256.Create(weight);
        a = Fma.MultiplyAdd(x, v, a);
        if (V.Value > 1) b = Fma.MultiplyAdd(z, v, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(float* c, int ldc, int j, bool two, ref Vector256<float> a, ref Vector256<float> b)
    {
        a = Vector256.Load(c + (long)j * ldc);
        if (two) b = Vector256.Load(c + (long)j * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, int ldc, int j, bool two, Vector256<float> a, Vector256<float> b)
    {
        a.Store(c + (long)j * ldc);
        if (two) b.Store(c + (long)j * ldc + 8);
    }
}
