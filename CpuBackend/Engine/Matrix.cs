using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A weight matrix [Rows, Cols] (HF Linear layout: one row per output), converted at load into the layout its
/// kernels read: float weights as depth-major panels of <see cref="PanelWidth"/> rows; int8 row by row, or in panels of
/// four depths for the 512-bit VNNI kernel (<see cref="Int8Panels"/>).</summary>
/// <remarks>A panel holds rows [32p, 32p + 32) column by column: element (o, i) is at panel o / 32, position i · 32 + o % 32,
/// so each column of a panel is one or two cache lines that the float kernels load once and multiply by every activation
/// row (<see cref="PanelKernels"/>). The last panel is padded with zero rows. docs/engine.md ("The weight layout") gives the
/// measurements behind it.</remarks>
internal sealed unsafe class Matrix : IDisposable
{
    /// <summary>Output rows per panel: two 512-bit vectors of f32, one cache line of f16.</summary>
    public const int PanelWidth = 32;

    private bool disposed;

    private Matrix(int rows, int cols, WeightType type, bool int8Panels, byte* data, float* scales, int* rowSums)
    {
        Rows = rows;
        Cols = cols;
        Type = type;
        Int8Panels = int8Panels;
        Data = data;
        Scales = scales;
        RowSums = rowSums;
    }

    public int Rows { get; }

    public int Cols { get; }

    public WeightType Type { get; }

    /// <summary>Float types and <see cref="Int8Panels"/>: panels (<see cref="PanelBytes"/> each). Int8 otherwise: rows, row o
    /// at Data + o * RowBytes.</summary>
    public byte* Data { get; }

    /// <summary>Float types are stored in panels; int8 row by row or in <see cref="Int8Panels"/>.</summary>
    public bool Panels => Type != WeightType.Int8;

    /// <summary>Int8 weights in panels of <see cref="PanelWidth"/> rows for <see cref="Int8PanelKernels"/>: panel p holds rows
    /// [32p, 32p + 32) by groups of four depths, row j's weights at depths 4g .. 4g + 3 in bytes [128g + 4j, 128g + 4j + 4),
    /// each stored plus 128 (vpdpbusd multiplies unsigned by signed bytes, and here the activations are the signed ones).
    /// The depth is padded to a multiple of four and the last panel to 32 rows, with weights of 0.</summary>
    public bool Int8Panels { get; }

    /// <summary>Rows rounded up to whole panels for float types and <see cref="Int8Panels"/>.</summary>
    public int StoredRows => StoredRowsOf(Type, Int8Panels, Rows);

    private static int StoredRowsOf(WeightType type, bool int8Panels, int rows) =>
        type == WeightType.Int8 && !int8Panels ? rows : (rows + PanelWidth - 1) / PanelWidth * PanelWidth;

    /// <summary>The depth of <see cref="Int8Panels"/>: Cols rounded up to a group of four.</summary>
    private static int Int8PanelDepth(int cols) => (cols + 3) / 4 * 4;

    /// <summary>One scale per stored row, w = stored * scale: int8's, and f16's where some row is stored times 2^10
    /// (<see cref="RescaleIfSubnormal"/>); null otherwise.</summary>
    public float* Scales { get; }

    /// <summary>Int8 row by row only: the sum of each row's stored integers, which the integer kernels subtract once per
    /// dot product to undo the +128 that makes activations unsigned (see <see cref="Int8Kernels"/>); null otherwise.</summary>
    public int* RowSums { get; }

    public int RowBytes => Int8Panels ? Int8PanelDepth(Cols) : Cols * ElementSize(Type);

    public long PanelBytes => (long)PanelWidth * RowBytes;

    public long ByteCount => (long)StoredRows * RowBytes + (Scales == null ? 0 : StoredRows * sizeof(float)) + (RowSums == null ? 0 : Rows * sizeof(int));

    public static int ElementSize(WeightType type) => type switch
    {
        WeightType.F32 => 4,
        WeightType.F16 or WeightType.BF16 => 2,
        _ => 1,
    };

    /// <summary>Converts <paramref name="tensor"/> into <paramref name="storage"/> (null: the checkpoint's dtype) in this
    /// process's memory, int8 in the layout of <see cref="Int8Kernels.Best"/>; the checkpoint's mapping is not needed afterwards.</summary>
    public static Matrix Load(CheckpointTensor tensor, int rows, int cols, WeightType? storage) =>
        Load(tensor, rows, cols, storage, int8Panels: Int8Kernels.Best == Int8Path.Avx512Vnni);

    /// <summary><see cref="Load(CheckpointTensor, int, int, WeightType?)"/> with int8 in the layout asked for (<see cref="Int8Panels"/>).</summary>
    internal static Matrix Load(CheckpointTensor tensor, int rows, int cols, WeightType? storage, bool int8Panels)
    {
        var source = tensor.WeightType;
        var target = storage ?? source;
        int8Panels &= target == WeightType.Int8;
        var size = ElementSize(target);
        var stored = StoredRowsOf(target, int8Panels, rows);
        var depth = int8Panels ? Int8PanelDepth(cols) : cols;
        var data = (byte*)NativeMemory.AlignedAlloc((nuint)((long)stored * depth * size), 64);
        var scales = target is WeightType.Int8 or WeightType.F16 ? (float*)NativeMemory.AlignedAlloc((nuint)(stored * sizeof(float)), 64) : null;
        var sums = target == WeightType.Int8 && !int8Panels ? (int*)NativeMemory.AlignedAlloc((nuint)(rows * sizeof(int)), 64) : null;
        if (scales != null) new Span<float>(scales, stored).Fill(1f);
        var sourceRowBytes = cols * ElementSize(source);
        var rescaledAny = 0;
        if (int8Panels)
        {
            // A panel at a time: each row quantized, then its groups of four written into the panel.
            Parallel.For(0, stored / PanelWidth, () => (new float[cols], new sbyte[depth]), (panel, state, scratch) =>
            {
                var (floats, quantized) = scratch;
                fixed (sbyte* q = quantized)
                    for (var j = 0; j < PanelWidth; j++)
                    {
                        var row = panel * PanelWidth + j;
                        new Span<sbyte>(q, depth).Clear();
                        if (row < rows)
                        {
                            ToFloat(source, (byte*)tensor.Data + (long)row * sourceRowBytes, null, floats);
                            Quantize(floats, q, out scales[row], out _);
                        }
                        for (var g = 0; g < depth / 4; g++)
                            *(uint*)(data + Int8PanelOffset(row, g, depth)) = *(uint*)(q + 4 * g) ^ 0x80808080;
                    }
                return scratch;
            }, _ => { });
        }
        else if (target == WeightType.Int8)
        {
            Parallel.For(0, rows, () => new float[cols], (row, _, scratch) =>
            {
                ToFloat(source, (byte*)tensor.Data + (long)row * sourceRowBytes, null, scratch);
                Quantize(scratch, (sbyte*)data + (long)row * cols, out scales[row], out sums[row]);
                return scratch;
            }, _ => { });
        }
        else
        {
            // A panel at a time: its 32 rows are written column by column into 32 · cols elements that stay in L2.
            Parallel.For(0, stored / PanelWidth, () => (new float[cols], new byte[cols * size]), (panel, _, scratch) =>
            {
                var (floats, bytes) = scratch;
                var target0 = data + (long)panel * PanelWidth * cols * size;
                fixed (byte* buffer = bytes)
                    for (var j = 0; j < PanelWidth; j++)
                    {
                        var row = panel * PanelWidth + j;
                        byte* values;
                        if (row >= rows)
                        {
                            new Span<byte>(buffer, bytes.Length).Clear();
                            values = buffer;
                        }
                        else if (source == target)
                        {
                            values = (byte*)tensor.Data + (long)row * sourceRowBytes;
                        }
                        else
                        {
                            ToFloat(source, (byte*)tensor.Data + (long)row * sourceRowBytes, null, floats);
                            FromFloat(target, floats, buffer);
                            values = buffer;
                        }
                        if (target == WeightType.F16 && RescaleIfSubnormal(values, buffer, cols))
                        {
                            values = buffer;
                            scales[row] = RescaledHalfRowScale;
                            Volatile.Write(ref rescaledAny, 1);
                        }
                        Scatter(values, size, cols, target0 + j * size);
                    }
                return scratch;
            }, _ => { });
        }
        if (target == WeightType.F16 && rescaledAny == 0)
        {
            NativeMemory.AlignedFree(scales);
            scales = null;
        }
        return new Matrix(rows, cols, target, int8Panels, data, scales, sums);
    }

    /// <summary>Writes one row's elements into its panel: element i at i · <see cref="PanelWidth"/>.</summary>
    private static void Scatter(byte* row, int size, int cols, byte* target)
    {
        if (size == 4)
            for (var i = 0; i < cols; i++) ((float*)target)[(long)i * PanelWidth] = ((float*)row)[i];
        else
            for (var i = 0; i < cols; i++) ((ushort*)target)[(long)i * PanelWidth] = ((ushort*)row)[i];
    }

    /// <summary>Reads one row's elements back out of its panel (<see cref="Scatter"/>'s inverse).</summary>
    private static void Gather(byte* column, int size, int cols, byte* row)
    {
        if (size == 4)
            for (var i = 0; i < cols; i++) ((float*)row)[i] = ((float*)column)[(long)i * PanelWidth];
        else
            for (var i = 0; i < cols; i++) ((ushort*)row)[i] = ((ushort*)column)[(long)i * PanelWidth];
    }

    /// <summary>Row <paramref name="row"/> as floats (embedding lookup).</summary>
    public void RowToFloat(int row, Span<float> destination)
    {
        if (Int8Panels)
        {
            var scale = Scales[row];
            for (var i = 0; i < Cols; i++) destination[i] = Int8PanelWeight(row, i) * scale;
            return;
        }
        if (!Panels)
        {
            ToFloat(Type, Data + (long)row * RowBytes, Scales + row, destination[..Cols]);
            return;
        }
        var size = ElementSize(Type);
        var stored = ArrayPool<byte>.Shared.Rent(RowBytes);
        try
        {
            fixed (byte* values = stored)
            {
                Gather(Data + (long)(row / PanelWidth) * PanelBytes + row % PanelWidth * size, size, Cols, values);
                ToFloat(Type, values, Scales == null ? null : Scales + row, destination[..Cols]);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    /// <summary>The stored integer of int8 weight (row, column), before its row's scale.</summary>
    internal sbyte Int8At(int row, int column)
    {
        if (Type != WeightType.Int8) throw new InvalidOperationException($"{Type} weights are not integers");
        return Int8Panels ? Int8PanelWeight(row, column) : ((sbyte*)Data)[(long)row * Cols + column];
    }

    /// <summary>Where the four weights of <paramref name="row"/> at depths 4g .. 4g + 3 lie in <see cref="Int8Panels"/> of
    /// <paramref name="depth"/> columns: the one statement of the layout, which loading writes and reading follows.</summary>
    private static long Int8PanelOffset(int row, int group, int depth) =>
        (long)(row / PanelWidth) * PanelWidth * depth + (long)group * 4 * PanelWidth + row % PanelWidth * 4;

    /// <summary>The integer of int8 weight (row, column) in <see cref="Int8Panels"/>, where it is stored plus 128.</summary>
    private sbyte Int8PanelWeight(int row, int column) => (sbyte)(Data[Int8PanelOffset(row, column / 4, RowBytes) + column % 4] ^ 0x80);

    /// <summary>Widens stored elements to floats (int8 needs its row's scale).</summary>
    public static void ToFloat(WeightType type, byte* source, float* scale, Span<float> destination)
    {
        switch (type)
        {
            case WeightType.F32:
                new ReadOnlySpan<float>(source, destination.Length).CopyTo(destination);
                break;
            case WeightType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, destination.Length), destination);
                if (scale != null) TensorPrimitives.Multiply(destination, *scale, destination);
                break;
            case WeightType.BF16:
                var bf = (ushort*)source;
                for (var i = 0; i < destination.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);
                break;
            default:
                var q = (sbyte*)source;
                for (var i = 0; i < destination.Length; i++) destination[i] = q[i] * *scale;
                break;
        }
    }

    /// <summary>Floats as stored elements of a float <paramref name="type"/>.</summary>
    private static void FromFloat(WeightType type, ReadOnlySpan<float> values, byte* target)
    {
        switch (type)
        {
            case WeightType.F32:
                values.CopyTo(new Span<float>(target, values.Length));
                break;
            case WeightType.F16:
                TensorPrimitives.ConvertToHalf(values, new Span<Half>(target, values.Length));
                break;
            default:
                var bf = (ushort*)target;
                for (var i = 0; i < values.Length; i++)
                {
                    // Round to nearest even, as torch's float -> bfloat16 conversion does.
                    var bits = (uint)BitConverter.SingleToInt32Bits(values[i]);
                    bf[i] = (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
                }
                break;
        }
    }

    /// <summary>Symmetric per-row quantization: scale = max|w| / 127, q = round(w / scale).</summary>
    private static void Quantize(ReadOnlySpan<float> values, sbyte* q, out float scale, out int sum)
    {
        var max = TensorPrimitives.MaxMagnitude(values);
        scale = max != 0 ? MathF.Abs(max) / 127f : 1f;
        sum = 0;
        for (var i = 0; i < values.Length; i++)
        {
            q[i] = (sbyte)Math.Clamp(MathF.Round(values[i] / scale), -127, 127);
            sum += q[i];
        }
    }

    /// <summary>The scale of an f16 row stored times 2^10.</summary>
    private const float RescaledHalfRowScale = 1f / 1024;

    /// <summary>An f16 row that holds a subnormal half is stored times 2^10, with a scale of 2^-10, so that no weight the
    /// kernels read is subnormal: true when <paramref name="halves"/> was such a row, now rescaled in <paramref name="buffer"/>.</summary>
    /// <remarks>The kernels widen halves by moving their bits (<see cref="Kernels.F16"/>), which turns a half subnormal
    /// (below 2^-14, 6.1e-5) into a float subnormal, and Intel cores take a microcode assist of about a hundred cycles
    /// for every multiply that reads one. Weights drawn around 0.02, as GPT-J's are, hold 0.2% of them, one vector of
    /// sixteen in 30: ten-sequence f16 decode on a 16-core Xeon ran at 2.0x its batch-1 rate (f32 5.4x) and no faster
    /// than on 2 cores. Times 2^10 every subnormal becomes a normal half and every product stays exact: a power of two
    /// changes no digit. A row holding a weight of 64 or more would overflow and keeps its subnormals (exact, slow on
    /// Intel). The kernels' finishing multiply applies the scale, as it does int8's.</remarks>
    private static bool RescaleIfSubnormal(byte* halves, byte* buffer, int count)
    {
        if (!HoldsSubnormalBelow64((ushort*)halves, count)) return false;
        if (halves != buffer) Buffer.MemoryCopy(halves, buffer, count * 2L, count * 2L);
        TimesTwoToTheTen((ushort*)buffer, count);
        return true;
    }

    /// <summary>Multiplies halves below 64 by 2^10, exactly: a normal half gains 10 in its exponent field; a subnormal,
    /// whose value has at most ten significant bits, becomes the normal half of 1024 times its value; zeros stay.</summary>
    private static void TimesTwoToTheTen(ushort* halves, int count)
    {
        const ushort Exponent = 0x7C00, TenInExponent = 10 << 10;
        var i = 0;
        for (; i + Vector256<ushort>.Count <= count; i += Vector256<ushort>.Count)
        {
            var v = Vector256.Load(halves + i);
            var subnormalOrZero = Vector256.Equals(v & Vector256.Create(Exponent), Vector256<ushort>.Zero);
            (v + Vector256.AndNot(Vector256.Create(TenInExponent), subnormalOrZero)).Store(halves + i);
            if ((subnormalOrZero & (v & Vector256.Create((ushort)0x3FF))) == Vector256<ushort>.Zero) continue;
            for (var j = i; j < i + Vector256<ushort>.Count; j++)
                if ((halves[j] & Exponent) == 0) halves[j] = TimesTwoToTheTen(halves[j]);
        }
        for (; i < count; i++) halves[i] = (halves[i] & Exponent) == 0 ? TimesTwoToTheTen(halves[i]) : (ushort)(halves[i] + TenInExponent);
    }

    private static ushort TimesTwoToTheTen(ushort subnormalOrZero) =>
        BitConverter.HalfToUInt16Bits((Half)((float)BitConverter.UInt16BitsToHalf(subnormalOrZero) * (1 / RescaledHalfRowScale)));

    /// <summary>Whether the halves hold a subnormal and every magnitude is below 64 (exponent field 21), so that times
    /// 2^10 they all stay finite.</summary>
    private static bool HoldsSubnormalBelow64(ushort* halves, int count)
    {
        const ushort Magnitude = 0x7FFF, LargestSubnormal = 0x3FF, SixtyFour = 21 << 10;
        var subnormal = Vector256<ushort>.Zero;
        var largest = Vector256<ushort>.Zero;
        var i = 0;
        for (; i + Vector256<ushort>.Count <= count; i += Vector256<ushort>.Count)
        {
            var magnitude = Vector256.Load(halves + i) & Vector256.Create(Magnitude);
            // magnitude - 1 (unsigned) is below 0x3FF exactly for the subnormals, 1 to 0x3FF: zero wraps around.
            subnormal |= Vector256.LessThan(magnitude - Vector256<ushort>.One, Vector256.Create(LargestSubnormal));
            largest = Vector256.Max(largest, magnitude);
        }
        var anySubnormal = subnormal != Vector256<ushort>.Zero;
        ushort max = 0;
        for (var j = 0; j < Vector256<ushort>.Count; j++) max = Math.Max(max, largest.GetElement(j));
        for (; i < count; i++)
        {
            var magnitude = (ushort)(halves[i] & Magnitude);
            anySubnormal |= (ushort)(magnitude - 1) < LargestSubnormal;
            max = Math.Max(max, magnitude);
        }
        return anySubnormal && max < SixtyFour;
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        NativeMemory.AlignedFree(Data);
        if (Scales != null) NativeMemory.AlignedFree(Scales);
        if (RowSums != null) NativeMemory.AlignedFree(RowSums);
    }
}
