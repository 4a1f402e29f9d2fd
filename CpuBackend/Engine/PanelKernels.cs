using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Products with float weights stored as panels (<see cref="Matrix"/>): for each column of a panel, its
/// <see cref="Matrix.PanelWidth"/> weights are loaded once (two 512-bit vectors of floats, widened from f16/bf16 on the
/// way) and multiplied by every activation row's broadcast element, so a decode step of ten sequences reads each weight
/// from memory once and uses it ten times in registers.</summary>
/// <remarks>One kernel serves every row count: one-row decode (a stream), decode batches and prefill (passes of up to
/// <see cref="Pass"/> rows over a panel that stays in L2). The accumulators are the outputs themselves, so there is no
/// horizontal sum, and the activations are read as scalars, a few cache lines at a time. docs/engine.md ("The weight
/// layout") has the measurements: a ten-row f32 decode step 14.1-14.3 → 8.2 ms on the 2-core Zen 5 VM.</remarks>
internal static unsafe class PanelKernels
{
    /// <summary>Activation rows per pass over a panel: twenty zmm accumulators (ten rows × two vectors) with AVX-512;
    /// ten ymm (five rows × two vectors, half a panel per pass) in the sixteen registers of AVX2.</summary>
    private static readonly int Pass = Kernels.Wide ? 10 : 5;

    /// <summary>How far ahead of its loads a pass prefetches its panel: the next panel of a band follows in memory, so
    /// the stream does not stop at a panel's end. On the 2-core Zen 5 VM, a synthetic ten-row stream of f32 panels ran
    /// at 157-185 G multiply-adds/s with 2 KiB, 197-204 with 4 KiB and 218-222 with 8 KiB; f16 216 / 236 / 243.</summary>
    private const int PrefetchBytes = 6144;

    /// <summary>Bytes of activations a block of rows keeps in L2 while every panel of a band is used by it (prefill).</summary>
    private const int RowBlockBytes = 512 << 10;

    /// <param name="inputScaled">x already holds the activations times the format's <see cref="Kernels.IWeightFormat.ActivationScale"/>.</param>
    public static void MatMul(ReadOnlySpan<float> x, int rows, Kernels.Target[] targets, bool inputScaled)
    {
        switch (targets[0].Weights.Type)
        {
            case WeightType.F32: MatMul<Kernels.F32>(x, rows, targets, inputScaled); break;
            case WeightType.F16: MatMul<Kernels.F16>(x, rows, targets, inputScaled); break;
            case WeightType.BF16: MatMul<Kernels.BF16>(x, rows, targets, inputScaled); break;
            default: throw new ArgumentException($"the panel kernels take float weights, not {targets[0].Weights.Type}", nameof(targets));
        }
    }

    private static void MatMul<T>(ReadOnlySpan<float> x, int rows, Kernels.Target[] targets, bool inputScaled) where T : struct, Kernels.IWeightFormat
    {
        if (rows == 0) return;
        var k = targets[0].Weights.Cols;
        // Formats whose loads return their weights times a power of two take their activations times its inverse.
        var scaled = T.ActivationScale != 1f && !inputScaled ? ArrayPool<float>.Shared.Rent(rows * k) : null;
        try
        {
            if (scaled != null) TensorPrimitives.Multiply(x[..(rows * k)], T.ActivationScale, scaled);
            fixed (float* xp = x, sp = scaled)
            {
                var xa = (nint)(sp != null ? sp : xp);
                var panelsPerItem = new int[targets.Length];
                var firstItem = new int[targets.Length + 1];
                for (var t = 0; t < targets.Length; t++)
                {
                    var w = targets[t].Weights;
                    var panels = w.StoredRows / Matrix.PanelWidth;
                    panelsPerItem[t] = PanelsPerItem((long)rows * w.Rows * k, panels);
                    firstItem[t + 1] = firstItem[t] + (panels + panelsPerItem[t] - 1) / panelsPerItem[t];
                }
                KernelThreads.For(firstItem[^1], item =>
                {
                    var t = targets.Length - 1;
                    while (firstItem[t] > item) t--;
                    var target = targets[t];
                    var p0 = (item - firstItem[t]) * panelsPerItem[t];
                    var p1 = Math.Min(target.Weights.StoredRows / Matrix.PanelWidth, p0 + panelsPerItem[t]);
                    Band<T>((float*)xa, rows, target.Weights, null, null, target.Bias, target.Output, p0, p1);
                });
            }
        }
        finally
        {
            if (scaled != null) ArrayPool<float>.Shared.Return(scaled);
        }
    }

    /// <summary>y[r, o] += Σ_i a[r, i] · wa[o, i] + Σ_j b[r, j] · wb[o, j] + bias[o] (float weights of one type, AVX-512): both
    /// products in the same sums, one parallel loop, the residual added once.</summary>
    /// <remarks>Computed as two products and two additions of rows, the f16 ten-row step's attention output and fc_out took
    /// 2.0 ms against 2.5 for q, k, v and fc_in, which multiply 40% more weights.</remarks>
    /// <param name="inputsScaled">a and b already hold the activations times the format's <see cref="Kernels.IWeightFormat.ActivationScale"/>.</param>
    public static void AddMatMuls(Span<float> y, int rows, ReadOnlySpan<float> a, Matrix wa, ReadOnlySpan<float> b, Matrix wb, float[]? bias,
        bool inputsScaled)
    {
        switch (wa.Type)
        {
            case WeightType.F32: AddMatMuls<Kernels.F32>(y, rows, a, wa, b, wb, bias, inputsScaled); break;
            case WeightType.F16: AddMatMuls<Kernels.F16>(y, rows, a, wa, b, wb, bias, inputsScaled); break;
            case WeightType.BF16: AddMatMuls<Kernels.BF16>(y, rows, a, wa, b, wb, bias, inputsScaled); break;
            default: throw new ArgumentException($"the panel kernels take float weights, not {wa.Type}", nameof(wa));
        }
    }

    private static void AddMatMuls<T>(Span<float> y, int rows, ReadOnlySpan<float> a, Matrix wa, ReadOnlySpan<float> b, Matrix wb, float[]? bias,
        bool inputsScaled) where T : struct, Kernels.IWeightFormat
    {
        if (rows == 0) return;
        int ka = wa.Cols, kb = wb.Cols;
        var pool = ArrayPool<float>.Shared;
        var scaled = T.ActivationScale != 1f && !inputsScaled ? pool.Rent(rows * (ka + kb)) : null;
        try
        {
            if (scaled != null)
            {
                TensorPrimitives.Multiply(a[..(rows * ka)], T.ActivationScale, scaled);
                TensorPrimitives.Multiply(b[..(rows * kb)], T.ActivationScale, scaled.AsSpan(rows * ka));
            }
            fixed (float* ap = a, bp = b, sp = scaled, yp = y, biasp = bias)
            {
                nint xa = (nint)(sp != null ? sp : ap), xb = (nint)(sp != null ? sp + rows * ka : bp), ya = (nint)yp, ba = (nint)biasp;
                var panels = wa.StoredRows / Matrix.PanelWidth;
                var panelsPerItem = PanelsPerItem((long)rows * wa.Rows * (ka + kb), panels);
                KernelThreads.For((panels + panelsPerItem - 1) / panelsPerItem, item =>
                {
                    var p0 = item * panelsPerItem;
                    Band<T>((float*)xa, rows, wa, (float*)xb, wb, (float*)ba, (float*)ya, p0, Math.Min(panels, p0 + panelsPerItem));
                });
            }
        }
        finally
        {
            if (scaled != null) pool.Return(scaled);
        }
    }

    /// <summary>Panels per work item of a product of <paramref name="multiplyAdds"/> (<see cref="Kernels.WorkItems"/>).</summary>
    private static int PanelsPerItem(long multiplyAdds, int panels)
    {
        var items = Kernels.WorkItems(multiplyAdds, panels);
        return (panels + items - 1) / items;
    }

    /// <summary>Panels [p0, p1) against every activation row: blocks of rows that stay in L2, each pass of up to
    /// <see cref="Pass"/> rows reading one panel.</summary>
    /// <param name="wB">A second product's weights (<see cref="AddMatMuls"/>, AVX-512 only), or null.</param>
    private static void Band<T>(float* x, int rows, Matrix w, float* xB, Matrix? wB, float* bias, float* y, int p0, int p1)
        where T : struct, Kernels.IWeightFormat
    {
        int k = w.Cols, n = w.Rows, kB = wB?.Cols ?? 0;
        // A panel's bias and the outputs of a last, padded panel, set aside outside the kernels.
        var scratch = stackalloc float[11 * Matrix.PanelWidth];
        var rowBlock = Math.Max(Pass, RowBlockBytes / (Math.Max(k, kB) * sizeof(float)) / Pass * Pass);
        for (var r0 = 0; r0 < rows; r0 += rowBlock)
        {
            var r1 = Math.Min(rows, r0 + rowBlock);
            for (var p = p0; p < p1; p++)
            {
                var o = p * Matrix.PanelWidth;
                var panel = w.Data + p * w.PanelBytes;
                var scales = w.Scales == null ? null : w.Scales + o;
                var panelB = wB == null ? null : wB.Data + p * wB.PanelBytes;
                var scalesB = wB?.Scales == null ? null : wB.Scales + o;
                for (var r = r0; r < r1; r += Pass)
                {
                    var xr = x + (long)r * k;
                    var xBr = xB + (long)r * kB;
                    var yr = y + (long)r * n;
                    if (!Kernels.Vectorized)
                    {
                        PassScalar<T>(panel, xr, Math.Min(Pass, r1 - r), k, yr, n, o, bias, scales);
                        continue;
                    }
                    if (!Kernels.Wide && r1 - r <= 2)
                    {
                        if (r1 - r == 1) WholePass256<T, Kernels.One>(panel, xr, k, yr, n, o, bias, scales, scratch);
                        else WholePass256<T, Kernels.Two>(panel, xr, k, yr, n, o, bias, scales, scratch);
                        continue;
                    }
                    if (!Kernels.Wide)
                    {
                        for (var half = 0; half < 2; half++)
                            switch (Math.Min(Pass, r1 - r))
                            {
                                case 3: Pass256<T, Kernels.Three>(panel, half, xr, k, yr, n, o, bias, scales, scratch); break;
                                case 4: Pass256<T, Kernels.Four>(panel, half, xr, k, yr, n, o, bias, scales, scratch); break;
                                default: Pass256<T, Kernels.Five>(panel, half, xr, k, yr, n, o, bias, scales, scratch); break;
                            }
                        continue;
                    }
                    switch (Math.Min(Pass, r1 - r))
                    {
                        case 1: Pass512<T, Kernels.One>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 2: Pass512<T, Kernels.Two>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 3: Pass512<T, Kernels.Three>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 4: Pass512<T, Kernels.Four>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 5: Pass512<T, Kernels.Five>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 6: Pass512<T, Kernels.Six>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 7: Pass512<T, Kernels.Seven>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 8: Pass512<T, Kernels.Eight>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        case 9: Pass512<T, Kernels.Nine>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                        default: Pass512<T, Kernels.Ten>(panel, xr, k, panelB, xBr, kB, yr, n, o, bias, scales, scalesB, scratch); break;
                    }
                }
            }
        }
    }

    /// <summary>Where row <paramref name="r"/>'s 32 outputs of a pass go: into y, or into <paramref name="spill"/> when the
    /// panel is the matrix's last and partly padding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Output(float* y, int r, int n, int o, bool full, float* spill) => full ? y + (long)r * n + o : spill + r * Matrix.PanelWidth;

    /// <summary>The padded panel's valid outputs, from <paramref name="spill"/> into y (or added to it).</summary>
    private static void CopyValid(float* spill, int count, float* y, int n, int o, bool add = false)
    {
        for (var r = 0; r < count; r++)
        {
            var target = new Span<float>(y + (long)r * n + o, n - o);
            var valid = new ReadOnlySpan<float>(spill + r * Matrix.PanelWidth, n - o);
            if (add) TensorPrimitives.Add(target, valid, target);
            else valid.CopyTo(target);
        }
    }

    /// <summary>The bias of a panel's outputs, zero past the matrix's rows.</summary>
    private static void PanelBias(float* bias, int n, int o, float* target)
    {
        for (var j = 0; j < Matrix.PanelWidth; j++) target[j] = bias != null && o + j < n ? bias[o + j] : 0f;
    }

    /// <summary>N (1 to 10) activation rows against one panel on 512-bit vectors.</summary>
    /// <remarks>With a second product (<paramref name="kB"/> above 0: GPT-J's attention output projection and fc_out) both
    /// accumulate into the same sums, which are added, with the bias, to what y holds (the residual).</remarks>
    private static void Pass512<T, N>(byte* panel, float* x, int k, byte* panelB, float* xB, int kB, float* y, int n, int o, float* bias,
        float* scales, float* scalesB, float* scratch)
        where T : struct, Kernels.IWeightFormat where N : struct, Kernels.IRowCount
    {
        // The finishing scale and bias are set up before the accumulators exist: with a call while they were live, the JIT
        // kept them on the stack across the loop (a ten-row f32 step ran at a third of its speed).
        var panelBias = scratch;
        PanelBias(bias, n, o, panelBias);
        var last = kB > 0 ? scalesB : scales;
        var s0 = (last == null ? Vector512<float>.One : Vector512.Load(last)) * T.SumScale;
        var s1 = (last == null ? Vector512<float>.One : Vector512.Load(last + 16)) * T.SumScale;
        var c0 = Vector512.Load(panelBias);
        var c1 = Vector512.Load(panelBias + 16);
        Vector512<float> a0 = default, b0 = default;
        Vector512<float> a1 = default, b1 = default;
        Vector512<float> a2 = default, b2 = default;
        Vector512<float> a3 = default, b3 = default;
        Vector512<float> a4 = default, b4 = default;
        Vector512<float> a5 = default, b5 = default;
        Vector512<float> a6 = default, b6 = default;
        Vector512<float> a7 = default, b7 = default;
        Vector512<float> a8 = default, b8 = default;
        Vector512<float> a9 = default, b9 = default;
        var line = Matrix.PanelWidth * T.Size;
        // The second product, where there is one, runs the same loop on its own panel and activations.
        for (var product = 0; product < 2; product++)
        {
            if (product == 1)
            {
                if (kB == 0) break;
                // The first product's sums are brought to the second's row scales, which the store applies.
                if (scales != null || scalesB != null)
                {
                    var r0 = (scales == null ? Vector512<float>.One : Vector512.Load(scales)) / (scalesB == null ? Vector512<float>.One : Vector512.Load(scalesB));
                    var r1 = (scales == null ? Vector512<float>.One : Vector512.Load(scales + 16)) / (scalesB == null ? Vector512<float>.One : Vector512.Load(scalesB + 16));
                    if (N.Value > 0) { a0 *= r0; b0 *= r1; }
                    if (N.Value > 1) { a1 *= r0; b1 *= r1; }
                    if (N.Value > 2) { a2 *= r0; b2 *= r1; }
                    if (N.Value > 3) { a3 *= r0; b3 *= r1; }
                    if (N.Value > 4) { a4 *= r0; b4 *= r1; }
                    if (N.Value > 5) { a5 *= r0; b5 *= r1; }
                    if (N.Value > 6) { a6 *= r0; b6 *= r1; }
                    if (N.Value > 7) { a7 *= r0; b7 *= r1; }
                    if (N.Value > 8) { a8 *= r0; b8 *= r1; }
                    if (N.Value > 9) { a9 *= r0; b9 *= r1; }
                }
                panel = panelB;
                x = xB;
                k = kB;
            }
            for (var i = 0; i < k; i++)
            {
                var p = panel + (long)i * line;
                // Prefetches never fault, so the last panel's may reach past the matrix.
                Sse.Prefetch0(p + PrefetchBytes);
                if (line > 64) Sse.Prefetch0(p + PrefetchBytes + 64);
                var v = T.Load16(p, 0);
                var u = T.Load16(p, 16);
                if (N.Value > 0) { var xv = Vector512.Create(x[0L * k + i]); a0 = Avx512F.FusedMultiplyAdd(v, xv, a0); b0 = Avx512F.FusedMultiplyAdd(u, xv, b0); }
                if (N.Value > 1) { var xv = Vector512.Create(x[1L * k + i]); a1 = Avx512F.FusedMultiplyAdd(v, xv, a1); b1 = Avx512F.FusedMultiplyAdd(u, xv, b1); }
                if (N.Value > 2) { var xv = Vector512.Create(x[2L * k + i]); a2 = Avx512F.FusedMultiplyAdd(v, xv, a2); b2 = Avx512F.FusedMultiplyAdd(u, xv, b2); }
                if (N.Value > 3) { var xv = Vector512.Create(x[3L * k + i]); a3 = Avx512F.FusedMultiplyAdd(v, xv, a3); b3 = Avx512F.FusedMultiplyAdd(u, xv, b3); }
                if (N.Value > 4) { var xv = Vector512.Create(x[4L * k + i]); a4 = Avx512F.FusedMultiplyAdd(v, xv, a4); b4 = Avx512F.FusedMultiplyAdd(u, xv, b4); }
                if (N.Value > 5) { var xv = Vector512.Create(x[5L * k + i]); a5 = Avx512F.FusedMultiplyAdd(v, xv, a5); b5 = Avx512F.FusedMultiplyAdd(u, xv, b5); }
                if (N.Value > 6) { var xv = Vector512.Create(x[6L * k + i]); a6 = Avx512F.FusedMultiplyAdd(v, xv, a6); b6 = Avx512F.FusedMultiplyAdd(u, xv, b6); }
                if (N.Value > 7) { var xv = Vector512.Create(x[7L * k + i]); a7 = Avx512F.FusedMultiplyAdd(v, xv, a7); b7 = Avx512F.FusedMultiplyAdd(u, xv, b7); }
                if (N.Value > 8) { var xv = Vector512.Create(x[8L * k + i]); a8 = Avx512F.FusedMultiplyAdd(v, xv, a8); b8 = Avx512F.FusedMultiplyAdd(u, xv, b8); }
                if (N.Value > 9) { var xv = Vector512.Create(x[9L * k + i]); a9 = Avx512F.FusedMultiplyAdd(v, xv, a9); b9 = Avx512F.FusedMultiplyAdd(u, xv, b9); }
            }
        }
        var full = o + Matrix.PanelWidth <= n;
        var spill = scratch + Matrix.PanelWidth;
        // Adding to y's own values; a padded panel's spill is added when its valid part is copied.
        var add = kB > 0 && full;
        float* out0 = N.Value > 0 ? Output(y, 0, n, o, full, spill) : null;
        float* out1 = N.Value > 1 ? Output(y, 1, n, o, full, spill) : null;
        float* out2 = N.Value > 2 ? Output(y, 2, n, o, full, spill) : null;
        float* out3 = N.Value > 3 ? Output(y, 3, n, o, full, spill) : null;
        float* out4 = N.Value > 4 ? Output(y, 4, n, o, full, spill) : null;
        float* out5 = N.Value > 5 ? Output(y, 5, n, o, full, spill) : null;
        float* out6 = N.Value > 6 ? Output(y, 6, n, o, full, spill) : null;
        float* out7 = N.Value > 7 ? Output(y, 7, n, o, full, spill) : null;
        float* out8 = N.Value > 8 ? Output(y, 8, n, o, full, spill) : null;
        float* out9 = N.Value > 9 ? Output(y, 9, n, o, full, spill) : null;
        if (N.Value > 0) { Store(a0 * s0 + c0, out0, add); Store(b0 * s1 + c1, out0 + 16, add); }
        if (N.Value > 1) { Store(a1 * s0 + c0, out1, add); Store(b1 * s1 + c1, out1 + 16, add); }
        if (N.Value > 2) { Store(a2 * s0 + c0, out2, add); Store(b2 * s1 + c1, out2 + 16, add); }
        if (N.Value > 3) { Store(a3 * s0 + c0, out3, add); Store(b3 * s1 + c1, out3 + 16, add); }
        if (N.Value > 4) { Store(a4 * s0 + c0, out4, add); Store(b4 * s1 + c1, out4 + 16, add); }
        if (N.Value > 5) { Store(a5 * s0 + c0, out5, add); Store(b5 * s1 + c1, out5 + 16, add); }
        if (N.Value > 6) { Store(a6 * s0 + c0, out6, add); Store(b6 * s1 + c1, out6 + 16, add); }
        if (N.Value > 7) { Store(a7 * s0 + c0, out7, add); Store(b7 * s1 + c1, out7 + 16, add); }
        if (N.Value > 8) { Store(a8 * s0 + c0, out8, add); Store(b8 * s1 + c1, out8 + 16, add); }
        if (N.Value > 9) { Store(a9 * s0 + c0, out9, add); Store(b9 * s1 + c1, out9 + 16, add); }
        if (!full) CopyValid(spill, N.Value, y, n, o, add: kB > 0);
    }

    /// <summary>y = value, or y += value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> value, float* target, bool add) => (add ? value + Vector512.Load(target) : value).Store(target);

    /// <summary>N (1 to 5) activation rows against half a panel (16 outputs, <paramref name="half"/> 0 or 1) on 256-bit
    /// vectors (AVX2 without AVX-512): ten accumulators, two weight vectors and a broadcast fill 13 of the 16 registers.
    /// Whole panels against two rows instead widened every weight five times at ten rows (f16 ten-row step 18.3 ms).</summary>
    private static void Pass256<T, N>(byte* panel, int half, float* x, int k, float* y, int n, int o, float* bias, float* scales, float* scratch)
        where T : struct, Kernels.IWeightFormat where N : struct, Kernels.IRowCount
    {
        var start = o + 16 * half;
        var valid = Math.Min(16, n - start);
        if (valid <= 0) return; // half a panel of padding
        // Set up before the accumulators exist, so that no call is made while they are live (see Pass512); the scratch comes
        // from the caller because a stackalloc here is zeroed by a call, after the loop too.
        var panelBias = scratch;
        PanelBias(bias, n, o, panelBias);
        Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default, a4 = default, b4 = default;
        var line = Matrix.PanelWidth * T.Size;
        for (var i = 0; i < k; i++)
        {
            var p = panel + (long)i * line;
            Sse.Prefetch0(p + PrefetchBytes);
            if (line > 64) Sse.Prefetch0(p + PrefetchBytes + 64);
            var v = T.Load8(p, 16 * half);
            var u = T.Load8(p, 16 * half + 8);
            if (N.Value > 0) { var xv = Vector256.Create(x[0L * k + i]); a0 = Fma.MultiplyAdd(v, xv, a0); b0 = Fma.MultiplyAdd(u, xv, b0); }
            if (N.Value > 1) { var xv = Vector256.Create(x[1L * k + i]); a1 = Fma.MultiplyAdd(v, xv, a1); b1 = Fma.MultiplyAdd(u, xv, b1); }
            if (N.Value > 2) { var xv = Vector256.Create(x[2L * k + i]); a2 = Fma.MultiplyAdd(v, xv, a2); b2 = Fma.MultiplyAdd(u, xv, b2); }
            if (N.Value > 3) { var xv = Vector256.Create(x[3L * k + i]); a3 = Fma.MultiplyAdd(v, xv, a3); b3 = Fma.MultiplyAdd(u, xv, b3); }
            if (N.Value > 4) { var xv = Vector256.Create(x[4L * k + i]); a4 = Fma.MultiplyAdd(v, xv, a4); b4 = Fma.MultiplyAdd(u, xv, b4); }
        }
        // Loaded only now: with these four live across the loop it needed 17 registers and the JIT spilled.
        var s0 = (scales == null ? Vector256<float>.One : Vector256.Load(scales + 16 * half)) * T.SumScale;
        var s1 = (scales == null ? Vector256<float>.One : Vector256.Load(scales + 16 * half + 8)) * T.SumScale;
        var c0 = Vector256.Load(panelBias + 16 * half);
        var c1 = Vector256.Load(panelBias + 16 * half + 8);
        var full = valid == 16;
        var spill = scratch + Matrix.PanelWidth;
        if (N.Value > 0) { var target = full ? y + 0L * n + start : spill + 0 * 16; (a0 * s0 + c0).Store(target); (b0 * s1 + c1).Store(target + 8); }
        if (N.Value > 1) { var target = full ? y + 1L * n + start : spill + 1 * 16; (a1 * s0 + c0).Store(target); (b1 * s1 + c1).Store(target + 8); }
        if (N.Value > 2) { var target = full ? y + 2L * n + start : spill + 2 * 16; (a2 * s0 + c0).Store(target); (b2 * s1 + c1).Store(target + 8); }
        if (N.Value > 3) { var target = full ? y + 3L * n + start : spill + 3 * 16; (a3 * s0 + c0).Store(target); (b3 * s1 + c1).Store(target + 8); }
        if (N.Value > 4) { var target = full ? y + 4L * n + start : spill + 4 * 16; (a4 * s0 + c0).Store(target); (b4 * s1 + c1).Store(target + 8); }
        if (full) return;
        // Written out, not through Output and CopyValid: with those, ten f16 rows on AVX2 took 15.9 ms instead of 14.3 in
        // three of four processes (the loop itself compiled the same; the cause is not found).
        for (var r = 0; r < N.Value; r++)
            new ReadOnlySpan<float>(spill + r * 16, valid).CopyTo(new Span<float>(y + (long)r * n + start, valid));
    }

    /// <summary>N (1 or 2) activation rows against a whole panel on 256-bit vectors: one row reads each panel once, where
    /// two half-panel passes read it twice (f32 batch-1 step 7.4 against 10.1 ms with AVX-512 off).</summary>
    private static void WholePass256<T, N>(byte* panel, float* x, int k, float* y, int n, int o, float* bias, float* scales, float* scratch)
        where T : struct, Kernels.IWeightFormat where N : struct, Kernels.IRowCount
    {
        // Set up before the accumulators exist, so that no call is made while they are live (see Pass512).
        var panelBias = scratch;
        PanelBias(bias, n, o, panelBias);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        var line = Matrix.PanelWidth * T.Size;
        for (var i = 0; i < k; i++)
        {
            var p = panel + (long)i * line;
            Sse.Prefetch0(p + PrefetchBytes);
            if (line > 64) Sse.Prefetch0(p + PrefetchBytes + 64);
            Vector256<float> w0 = T.Load8(p, 0), w1 = T.Load8(p, 8), w2 = T.Load8(p, 16), w3 = T.Load8(p, 24);
            var xv = Vector256.Create(x[i]);
            a0 = Fma.MultiplyAdd(w0, xv, a0);
            a1 = Fma.MultiplyAdd(w1, xv, a1);
            a2 = Fma.MultiplyAdd(w2, xv, a2);
            a3 = Fma.MultiplyAdd(w3, xv, a3);
            if (N.Value > 1)
            {
                xv = Vector256.Create(x[k + i]);
                b0 = Fma.MultiplyAdd(w0, xv, b0);
                b1 = Fma.MultiplyAdd(w1, xv, b1);
                b2 = Fma.MultiplyAdd(w2, xv, b2);
                b3 = Fma.MultiplyAdd(w3, xv, b3);
            }
        }
        var full = o + Matrix.PanelWidth <= n;
        var spill = scratch + Matrix.PanelWidth;
        Store256<T>(a0, a1, a2, a3, Output(y, 0, n, o, full, spill), scales, panelBias);
        if (N.Value > 1) Store256<T>(b0, b1, b2, b3, Output(y, 1, n, o, full, spill), scales, panelBias);
        if (!full) CopyValid(spill, N.Value, y, n, o);
    }

    /// <summary>A row's 32 sums of a whole-panel pass, scaled and biased, to <paramref name="target"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256<T>(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, float* target, float* scales, float* panelBias)
        where T : struct, Kernels.IWeightFormat
    {
        var sum = Vector256.Create(T.SumScale);
        (a * (scales == null ? sum : Vector256.Load(scales) * sum) + Vector256.Load(panelBias)).Store(target);
        (b * (scales == null ? sum : Vector256.Load(scales + 8) * sum) + Vector256.Load(panelBias + 8)).Store(target + 8);
        (c * (scales == null ? sum : Vector256.Load(scales + 16) * sum) + Vector256.Load(panelBias + 16)).Store(target + 16);
        (d * (scales == null ? sum : Vector256.Load(scales + 24) * sum) + Vector256.Load(panelBias + 24)).Store(target + 24);
    }

    /// <summary>Up to <see cref="Pass"/> activation rows against one panel without vector instructions (no AVX2).</summary>
    private static void PassScalar<T>(byte* panel, float* x, int count, int k, float* y, int n, int o, float* bias, float* scales)
        where T : struct, Kernels.IWeightFormat
    {
        var sums = stackalloc float[Matrix.PanelWidth];
        var line = Matrix.PanelWidth * T.Size;
        for (var r = 0; r < count; r++)
        {
            new Span<float>(sums, Matrix.PanelWidth).Clear();
            for (var i = 0; i < k; i++)
            {
                var xi = x[(long)r * k + i];
                for (var j = 0; j < Matrix.PanelWidth; j++) sums[j] += T.Load1(panel + (long)i * line, j) * xi;
            }
            for (var j = 0; j < Matrix.PanelWidth && o + j < n; j++)
                y[(long)r * n + o + j] = sums[j] * (scales == null ? 1f : scales[j]) * T.SumScale + (bias == null ? 0f : bias[o + j]);
        }
    }
}
