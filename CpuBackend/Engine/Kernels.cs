using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The numeric kernels of the forward pass: threaded matrix products over every weight type, layer norm, gelu, softmax.</summary>
internal static unsafe class Kernels
{
    /// <summary>AVX2 and FMA: the vectorised kernels run; otherwise the scalar ones.</summary>
    internal static readonly bool Vectorized = Avx2.IsSupported && Fma.IsSupported;

    /// <summary>AVX-512 is enabled: the panel kernels and attention run on 512-bit vectors and 32 registers.
    /// Chosen at run time, so DOTNET_EnableAVX512=0 selects the 256-bit kernels (the tests use it).</summary>
    public static readonly bool Wide = Avx512F.IsSupported;

    /// <summary>How far ahead of its loads each stream of one-row decode prefetches its weights.</summary>
    /// <remarks>The hardware prefetcher stops at every 4 KiB page, and a stream's next weight row starts one there (a
    /// mid-size f32 row is a page, f16 half, int8 a quarter). Reaching 1.5 KiB ahead across the boundary measured batch-1
    /// decode steps 16% (f32), 13-15% (int8) and 5% (f16) faster, in-process A/B against no prefetch; 1 and 2 KiB
    /// measured the same, 4 KiB worse.</remarks>
    internal const int StreamPrefetchBytes = 1536;

    /// <summary>Multiply-adds below which a product is not split across threads.</summary>
    private const long SerialWork = 1 << 17;

    /// <summary>How many work items a product of <paramref name="multiplyAdds"/> is cut into, from <paramref name="units"/>
    /// pieces it can be cut at (row tiles, panels): four per core, as a core's contiguous share of them measured best
    /// (two and sixteen were 1-3% slower at ten sequences); one where waking other threads would not repay (tiny models).</summary>
    internal static int WorkItems(long multiplyAdds, int units) =>
        multiplyAdds < SerialWork ? 1 : Math.Min(units, Environment.ProcessorCount * 4);

    /// <summary>What a product over <paramref name="w"/> multiplies its activations by before they meet the weights
    /// (<see cref="IWeightFormat.ActivationScale"/>): 2^48 for f16, 1 otherwise.</summary>
    /// <remarks>Whoever writes the activations, a row at a time in a parallel loop anyway, can write them times this factor
    /// and pass <c>inputScaled</c>: the product then skips its own pass over them, which ran on one thread while the other
    /// cores waited (f16 ten-row step of the mid-size model: 0.25 ms of 7.3).</remarks>
    public static float ActivationScale(Matrix w) => w.Type switch
    {
        WeightType.F32 => F32.ActivationScale,
        WeightType.F16 => F16.ActivationScale,
        WeightType.BF16 => BF16.ActivationScale,
        _ => 1f, // int8 products quantize their activations as they are
    };

    /// <summary>The <see cref="ActivationScale(Matrix)"/> all of <paramref name="matrices"/> share, or 1 where they differ.</summary>
    public static float ActivationScale(ReadOnlySpan<Matrix> matrices)
    {
        var scale = ActivationScale(matrices[0]);
        foreach (var w in matrices)
            if (ActivationScale(w) != scale) return 1f;
        return scale;
    }

    /// <summary>y[r, o] = sum_i x[r, i] * w[o, i] (+ bias[o]) for r &lt; rows: each weight is read once for all rows.</summary>
    /// <param name="inputScaled">x holds the activations times <see cref="ActivationScale(Matrix)"/> of w.</param>
    public static void MatMul(ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y, bool inputScaled = false)
    {
        if (x.Length < rows * w.Cols || y.Length < rows * w.Rows) throw new ArgumentException("matrix product operands are too small");
        fixed (float* yp = y, bp = bias) MatMul(x, rows, [new Target(w, bp, yp)], inputScaled);
    }

    /// <summary>Products of one input with matrices of one type: float weights on the panel kernels, int8 on the integer
    /// kernels (or, on a CPU without AVX2, widened row by row). Int8 products take their activations as they are.</summary>
    private static void MatMul(ReadOnlySpan<float> x, int rows, Target[] targets, bool inputScaled)
    {
        if (targets[0].Weights.Type != WeightType.Int8) PanelKernels.MatMul(x, rows, targets, inputScaled);
        else if (Int8Kernels.PathFor(targets[0].Weights) is var path && path != Int8Path.Float) Int8Kernels.MatMul(path, x, rows, targets);
        else WidenedInt8MatMul(x, rows, targets);
    }

    /// <summary>Int8 weights widened to floats against float activations: the path of CPUs without AVX2.</summary>
    internal static void WidenedInt8MatMul(ReadOnlySpan<float> x, int rows, Matrix w, float[]? bias, Span<float> y)
    {
        if (w.Type != WeightType.Int8 || w.Int8Panels) throw new ArgumentException($"widened int8 products need int8 weights row by row, not {w.Type}{(w.Int8Panels ? " in panels" : "")}", nameof(w));
        if (x.Length < rows * w.Cols || y.Length < rows * w.Rows) throw new ArgumentException("matrix product operands are too small");
        fixed (float* yp = y, bp = bias) WidenedInt8MatMul(x, rows, [new Target(w, bp, yp)]);
    }

    private static void WidenedInt8MatMul(ReadOnlySpan<float> x, int rows, Target[] targets)
    {
        fixed (float* xp = x)
        {
            var xa = (nint)xp;
            ForBands(rows, targets, (target, o0, o1, _) =>
            {
                var w = target.Weights;
                int k = w.Cols, n = w.Rows;
                for (var o = o0; o < o1; o++)
                    for (var r = 0; r < rows; r++)
                        target.Output[(long)r * n + o] = Dot1<I8>(w.Data + (long)o * k, (float*)xa + (long)r * k, k) * w.Scales[o]
                            + (target.Bias == null ? 0f : target.Bias[o]);
            });
        }
    }

    /// <summary>y[r, o] += Σ_i a[r, i] · wa[o, i] + Σ_j b[r, j] · wb[o, j] + bias[o] for r &lt; rows: GPT-J's attention output
    /// projection and its MLP's fc_out, which both add to the residual.</summary>
    /// <param name="inputsScaled">a and b hold the activations times <see cref="ActivationScale(Matrix)"/> of wa and wb.</param>
    public static void AddMatMuls(Span<float> y, int rows, ReadOnlySpan<float> a, Matrix wa, ReadOnlySpan<float> b, Matrix wb, float[]? bias,
        bool inputsScaled = false)
    {
        var n = wa.Rows;
        if (wb.Rows != n || y.Length < rows * n) throw new ArgumentException("matrix product operands are too small");
        if (a.Length < rows * wa.Cols || b.Length < rows * wb.Cols) throw new ArgumentException("matrix product operands are too small");
        // One row is a pure stream, which the fused pass reads worse: it switches between the two matrices at every panel,
        // where its prefetches run on into the wrong one (GPT-J 6B f16 batch 1: 88% of the copy roofline fused, 90-95%
        // apart).
        if (Wide && rows > 1 && wa.Type == wb.Type && wa.Panels)
        {
            PanelKernels.AddMatMuls(y, rows, a, wa, b, wb, bias, inputsScaled);
            return;
        }
        // Otherwise each product on its own, added row by row in order.
        var pool = ArrayPool<float>.Shared;
        float[] first = pool.Rent(rows * n), second = pool.Rent(rows * n);
        try
        {
            MatMul(a, rows, wa, null, first, inputsScaled);
            MatMul(b, rows, wb, bias, second, inputsScaled);
            fixed (float* yp = y)
            {
                var ya = (nint)yp;
                KernelThreads.For(rows, r =>
                {
                    var row = new Span<float>((float*)ya + (long)r * n, n);
                    TensorPrimitives.Add(row, first.AsSpan(r * n, n), row);
                    TensorPrimitives.Add(row, second.AsSpan(r * n, n), row);
                });
            }
        }
        finally
        {
            pool.Return(first);
            pool.Return(second);
        }
    }

    /// <summary>Several products of the same activations (weights of one type and width): the activations are packed or
    /// quantized once, and the bands of all products are the items of one parallel loop, so a core that finishes one
    /// product's bands goes on with the next product's instead of waiting at the end of each.</summary>
    /// <remarks>A decode step's q, k, v and fc_in all read ln_1's output: four loops and four packings of it per layer
    /// are now one of each (57 parallel loops a step of the mid-size model become 33). Decode steps, in-process A/B: int8
    /// batch 1 3.64 → 3.55 ms, ten sequences 9.06 → 8.77; f32 12.44 → 12.26 and 25.31 → 24.79; f16 5.79 → 5.74 and
    /// 15.43 → 14.97.</remarks>
    /// <param name="inputScaled">x holds the activations times the <see cref="ActivationScale(Matrix)"/> that every product's
    /// weights share.</param>
    public static void MatMul(ReadOnlySpan<float> x, int rows, ReadOnlySpan<Product> products, bool inputScaled = false)
    {
        if (products.IsEmpty) throw new ArgumentException("no products", nameof(products));
        var first = products[0].Weights;
        var mixed = false;
        foreach (var product in products)
        {
            if (product.Weights.Cols != first.Cols) throw new ArgumentException("products of one input need weights of its width", nameof(products));
            if (product.Output.Length < rows * product.Weights.Rows) throw new ArgumentException("matrix product operands are too small");
            mixed |= product.Weights.Type != first.Type;
            if (inputScaled && ActivationScale(product.Weights) != ActivationScale(first))
                throw new ArgumentException("scaled activations need products that take one scale", nameof(products));
        }
        if (x.Length < rows * first.Cols) throw new ArgumentException("matrix product operands are too small");
        if (mixed)
        {
            // A checkpoint kept in its own dtypes may mix them: each product packs its input its own way.
            foreach (var product in products) MatMul(x, rows, product.Weights, product.Bias, product.Output, inputScaled);
            return;
        }
        var pins = new List<GCHandle>(2 * products.Length);
        try
        {
            var targets = new Target[products.Length];
            for (var p = 0; p < products.Length; p++)
            {
                var (weights, bias, output) = products[p];
                var outputPin = GCHandle.Alloc(output, GCHandleType.Pinned);
                pins.Add(outputPin);
                float* biasAddress = null;
                if (bias != null)
                {
                    var biasPin = GCHandle.Alloc(bias, GCHandleType.Pinned);
                    pins.Add(biasPin);
                    biasAddress = (float*)biasPin.AddrOfPinnedObject();
                }
                targets[p] = new Target(weights, biasAddress, (float*)outputPin.AddrOfPinnedObject());
            }
            MatMul(x, rows, targets, inputScaled);
        }
        finally
        {
            foreach (var pin in pins) pin.Free();
        }
    }

    /// <summary>A product's weights with its bias and output, pinned for the length of a call.</summary>
    internal readonly struct Target(Matrix weights, float* bias, float* output)
    {
        public Matrix Weights { get; } = weights;

        public float* Bias { get; } = bias;

        public float* Output { get; } = output;
    }

    /// <summary>Runs <paramref name="band"/>(target, o0, o1, tile) over every band of every target (<see cref="Split"/>), as the
    /// items of one parallel loop.</summary>
    internal static void ForBands(int rows, Target[] targets, Action<Target, int, int, int> band)
    {
        var splits = new (int Tile, int Band, int FirstItem)[targets.Length];
        var items = 0;
        for (var t = 0; t < targets.Length; t++)
        {
            var (tile, rowsPerBand) = Split(rows, targets[t].Weights);
            splits[t] = (tile, rowsPerBand, items);
            items += (targets[t].Weights.Rows + rowsPerBand - 1) / rowsPerBand;
        }
        KernelThreads.For(items, item =>
        {
            var t = targets.Length - 1;
            while (splits[t].FirstItem > item) t--;
            var (tile, rowsPerBand, firstItem) = splits[t];
            var o0 = (item - firstItem) * rowsPerBand;
            band(targets[t], o0, Math.Min(targets[t].Weights.Rows, o0 + rowsPerBand), tile);
        });
    }

    /// <summary>How a product is cut up: work items are bands of output rows; inside a band, tiles of weight
    /// rows small enough for L2 are reused across blocks of activation rows (prefill) while decode streams
    /// each weight once.</summary>
    internal static (int Tile, int Band) Split(int rows, Matrix w)
    {
        int k = w.Cols, n = w.Rows;
        var tile = Math.Clamp(131072 / w.RowBytes, 4, 64);
        var bands = WorkItems((long)rows * n * k, (n + tile - 1) / tile);
        var band = (n + bands - 1) / bands;
        // Int8 panels are cut whole.
        return (tile, w.Int8Panels ? (band + Matrix.PanelWidth - 1) / Matrix.PanelWidth * Matrix.PanelWidth : band);
    }

    /// <summary>Where a 2×N block leaves w_j · x_r: each activation row's two results side by side for the first four rows
    /// (the order of the outputs in memory), the fifth row's after them.</summary>
    internal static int Slot(int r, int j) => r < 4 ? 2 * r + j : 8 + j;

    /// <summary>The slots of one 2×N block (<see cref="Slot"/>): two results for each of five rows.</summary>
    internal const int Slots = 10;

    /// <summary>The cache line at byte <paramref name="at"/> of each of four streams.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PrefetchStreams(byte* w0, byte* w1, byte* w2, byte* w3, long at)
    {
        // Prefetches never fault, so the last rows of a band may reach past the matrix.
        Sse.Prefetch0(w0 + at);
        Sse.Prefetch0(w1 + at);
        Sse.Prefetch0(w2 + at);
        Sse.Prefetch0(w3 + at);
    }

    /// <summary>The sums of four accumulators into four adjacent floats: halves added, then a tree of horizontal adds (each
    /// leaves, per 128-bit lane, pair sums of both operands), then the two lanes added; 13 instructions where four
    /// separate sums take 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Reduce4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float* result)
    {
        var ab = Avx.HorizontalAdd(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper());
        var cd = Avx.HorizontalAdd(c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
        var abcd = Avx.HorizontalAdd(ab, cd);
        (abcd.GetLower() + abcd.GetUpper()).Store(result);
    }

    /// <summary>Four vectors against the sixteen floats at <paramref name="x"/>: a += v0 · x, b += v1 · x, ... (four weight
    /// vectors against a packed activation row here; four queries against a key, or four broadcast probabilities against a
    /// value, in <see cref="PrefillAttention"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Step4(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, float* x,
        ref Vector512<float> a, ref Vector512<float> b, ref Vector512<float> c, ref Vector512<float> d)
    {
        var xv = Vector512.Load(x);
        a = Avx512F.FusedMultiplyAdd(v0, xv, a);
        b = Avx512F.FusedMultiplyAdd(v1, xv, b);
        c = Avx512F.FusedMultiplyAdd(v2, xv, c);
        d = Avx512F.FusedMultiplyAdd(v3, xv, d);
    }

    /// <summary>A row count known to the JIT, so the kernels specialise on it.</summary>
    internal interface IRowCount
    {
        static abstract int Value { get; }
    }

    internal readonly struct One : IRowCount { public static int Value => 1; }

    internal readonly struct Two : IRowCount { public static int Value => 2; }

    internal readonly struct Three : IRowCount { public static int Value => 3; }

    internal readonly struct Four : IRowCount { public static int Value => 4; }

    internal readonly struct Five : IRowCount { public static int Value => 5; }

    internal readonly struct Six : IRowCount { public static int Value => 6; }

    internal readonly struct Seven : IRowCount { public static int Value => 7; }

    internal readonly struct Eight : IRowCount { public static int Value => 8; }

    internal readonly struct Nine : IRowCount { public static int Value => 9; }

    internal readonly struct Ten : IRowCount { public static int Value => 10; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot1<T>(byte* w, float* x, int k) where T : struct, IWeightFormat
    {
        var i = 0;
        var sum = 0f;
        if (Vectorized)
        {
            // Four independent accumulators hide the FMA latency.
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= k; i += 32)
            {
                a0 = Fma.MultiplyAdd(T.Load8(w, i), Avx.LoadVector256(x + i), a0);
                a1 = Fma.MultiplyAdd(T.Load8(w, i + 8), Avx.LoadVector256(x + i + 8), a1);
                a2 = Fma.MultiplyAdd(T.Load8(w, i + 16), Avx.LoadVector256(x + i + 16), a2);
                a3 = Fma.MultiplyAdd(T.Load8(w, i + 24), Avx.LoadVector256(x + i + 24), a3);
            }
            for (; i + 8 <= k; i += 8) a0 = Fma.MultiplyAdd(T.Load8(w, i), Avx.LoadVector256(x + i), a0);
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < k; i++) sum += T.Load1(w, i) * x[i];
        return sum;
    }

    /// <summary>How a kernel widens eight (or one) stored weights to floats.</summary>
    /// <remarks>The loads may return the weights times a power of two, when that saves an instruction per vector: a product
    /// then takes its activations times <see cref="ActivationScale"/> and its sums times <see cref="SumScale"/>, which put the
    /// factor back. Powers of two change no digit of any product.</remarks>
    internal interface IWeightFormat
    {
        /// <summary>What the activations are multiplied by before they meet these loads' weights.</summary>
        static abstract float ActivationScale { get; }

        /// <summary>What a sum of products of these loads' weights and scaled activations is multiplied by.</summary>
        static abstract float SumScale { get; }

        static abstract Vector256<float> Load8(byte* row, int i);

        /// <summary>Sixteen weights as one 512-bit vector (AVX-512 only).</summary>
        static abstract Vector512<float> Load16(byte* row, int i);

        static abstract float Load1(byte* row, int i);

        /// <summary>Bytes per stored weight.</summary>
        static abstract int Size { get; }
    }

    internal readonly struct F32 : IWeightFormat
    {
        public static float ActivationScale => 1f;

        public static float SumScale => 1f;

        public static int Size => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int i) => Avx.LoadVector256((float*)row + i);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i) => Vector512.Load((float*)row + i);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => ((float*)row)[i];
    }

    /// <summary>IEEE half weights, loaded times 2^-112: sign-extending the 16 bits and shifting exponent and mantissa into
    /// place gives a float whose exponent lacks the bias difference (127 - 15), and the multiply that would add it back
    /// is left to the activations and sums (<see cref="IWeightFormat"/>). Dropping it from every vector of weights
    /// measured 14% faster for ten-sequence decode (the multiply runs on the FMA pipes). .NET exposes no F16C intrinsics.</summary>
    /// <remarks>Activations are taken times 2^48 and sums times 2^64: every product of a weight and an activation is
    /// then its true value times 2^-64, which keeps the products of the smallest weights and activations normal floats,
    /// and activations below 2^80 finite. A half subnormal would come out a float subnormal, which Intel cores multiply
    /// a hundred times slower: a row holding one is stored times 2^10 (<see cref="Matrix.Scales"/>).
    /// Inf/NaN are not expected in weights.</remarks>
    internal readonly struct F16 : IWeightFormat
    {
        public static float ActivationScale => 281474976710656f; // 2^48

        public static float SumScale => 18446744073709551616f; // 2^64

        public static int Size => 2;

        // The sign lands in bit 31 and its copies in bits 28-30 are masked off.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int i)
        {
            var h = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)row + i), 13);
            return (h & Vector256.Create(unchecked((int)0x8FFFFFFF))).AsSingle();
        }

        /// <summary><see cref="Load8"/>'s conversion on sixteen halves.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i)
        {
            var h = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((short*)row + i)), 13);
            return (h & Vector512.Create(unchecked((int)0x8FFFFFFF))).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => BitConverter.Int32BitsToSingle((((short*)row)[i] << 13) & unchecked((int)0x8FFFFFFF));
    }

    internal readonly struct BF16 : IWeightFormat
    {
        public static float ActivationScale => 1f;

        public static float SumScale => 1f;

        public static int Size => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int i) =>
            Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)row + i), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i) =>
            Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)row + i)), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => BitConverter.Int32BitsToSingle(((ushort*)row)[i] << 16);
    }

    internal readonly struct I8 : IWeightFormat
    {
        public static float ActivationScale => 1f;

        public static float SumScale => 1f;

        public static int Size => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int i) =>
            Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)row + i));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i) =>
            Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)row + i)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => ((sbyte*)row)[i];
    }

    /// <summary>y = (x - mean) / sqrt(var + eps) * weight + bias (torch.nn.LayerNorm, biased variance).</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, float[] weight, float[] bias, float epsilon, Span<float> y)
    {
        var mean = TensorPrimitives.Sum(x) / x.Length;
        // Two passes, as the variance of values far from zero loses its digits in E[x^2] - mean^2.
        TensorPrimitives.Subtract(x, mean, y);
        var inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / x.Length + epsilon);
        TensorPrimitives.Multiply(y, inverse, y);
        TensorPrimitives.MultiplyAdd(y, weight, bias, y);
    }

    /// <summary>gelu_new (HF): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place, times <paramref name="outputScale"/>
    /// (a power of two: what the product reading the result takes its activations times, <see cref="ActivationScale(Matrix)"/>).</summary>
    /// <remarks>Evaluated as x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3), the same function (1 + tanh u is
    /// 2 / (1 + e^(-2u))) in one pass with one exponential: tanh and the seven passes around it took 0.32 ms of a
    /// ten-sequence int8 decode step of 8 ms. At either infinity e^(-2u) is 0 or infinite, giving x or -0 as tanh does.</remarks>
    public static void GeluNew(Span<float> x, float outputScale = 1f)
    {
        const float TwoC = 2 * 0.7978845608028654f, TwoCA = TwoC * 0.044715f; // 2 sqrt(2/pi), times 0.044715
        ref var start = ref MemoryMarshal.GetReference(x);
        nuint i = 0, n = (nuint)x.Length;
        if (Vector512.IsHardwareAccelerated)
            for (var twoC = Vector512.Create(TwoC); i + 16 <= n; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref start, i);
                (v / (Vector512<float>.One + Exp(-(v * (TwoCA * v * v + twoC)))) * outputScale).StoreUnsafe(ref start, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (var twoC = Vector256.Create(TwoC); i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref start, i);
                (v / (Vector256<float>.One + Exp(-(v * (TwoCA * v * v + twoC)))) * outputScale).StoreUnsafe(ref start, i);
            }
        for (; i < n; i++)
        {
            var v = Unsafe.Add(ref start, i);
            Unsafe.Add(ref start, i) = v / (1f + MathF.Exp(-(v * (TwoC + TwoCA * v * v)))) * outputScale;
        }
    }

    /// <summary>e^x of every value, in place.</summary>
    public static void Exp(Span<float> values)
    {
        ref var start = ref MemoryMarshal.GetReference(values);
        nuint i = 0, n = (nuint)values.Length;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) Exp(Vector512.LoadUnsafe(ref start, i)).StoreUnsafe(ref start, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Exp(Vector256.LoadUnsafe(ref start, i)).StoreUnsafe(ref start, i);
        for (; i < n; i++) Unsafe.Add(ref start, i) = MathF.Exp(Unsafe.Add(ref start, i));
    }

    // The exponential of gelu, softmax and the sampler. e^x = 2^n · e^r with n = round(x / ln 2) and r = x - n ln 2 (ln 2 in two parts, so r keeps its
    // digits), e^r from Cephes' expf polynomial on |r| ≤ ln 2 / 2, 2^n built in the exponent bits. Vector512.Exp and
    // TensorPrimitives.Exp compute in double: 4.5-5.9 ns an element against 0.35-0.39 here, most of gelu and, over a
    // 50,400-token vocabulary, a quarter of a millisecond per sampled row.
    private const float Log2E = 1.44269504f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float Overflow = 88.7228394f, Underflow = -87.3365479f;

    private static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Underflow)), Vector512.Create(Overflow));
        var n = Vector512.Round(clamped * Log2E);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), clamped));
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var e = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One)
                * Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        // Beyond the range +inf and 0, as e^x gives, and NaN stays NaN (the native min and max drop it). From 88.38 up
        // n rounds to 128 and the result is +inf a little early; gelu and softmax give the same there either way.
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Overflow)), Vector512.Create(float.PositiveInfinity), e);
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Underflow)), Vector512<float>.Zero, e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    private static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(Underflow)), Vector256.Create(Overflow));
        var n = Vector256.Round(clamped * Log2E);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), clamped));
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1.9875691500e-4f), r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        var e = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One)
                * Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Overflow)), Vector256.Create(float.PositiveInfinity), e);
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Underflow)), Vector256<float>.Zero, e);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    /// <summary>Softmax in place, subtracting the maximum first so exp cannot overflow.</summary>
    public static void Softmax(Span<float> x) => Softmax(x, TensorPrimitives.Max(x), x);

    /// <summary>exp(x - max), normalised to sum 1, into <paramref name="probabilities"/> (which may be x itself); a -inf
    /// (removed) value gets 0. Returns the sum before normalising.</summary>
    public static float Softmax(ReadOnlySpan<float> x, float max, Span<float> probabilities)
    {
        TensorPrimitives.Subtract(x, max, probabilities);
        Exp(probabilities);
        var sum = TensorPrimitives.Sum(probabilities);
        TensorPrimitives.Divide(probabilities, sum, probabilities);
        return sum;
    }
}
