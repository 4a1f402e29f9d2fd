using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A weight matrix [Rows, Cols] (HF Linear layout: one row per output), mapped from the checkpoint or converted at load.</summary>
internal sealed unsafe class Matrix : IDisposable
{
    private readonly bool owned;
    private bool disposed;

    private Matrix(int rows, int cols, WeightType type, byte* data, float* scales, int* rowSums, bool owned)
    {
        Rows = rows;
        Cols = cols;
        Type = type;
        Data = data;
        Scales = scales;
        RowSums = rowSums;
        this.owned = owned;
    }

    public int Rows { get; }

    public int Cols { get; }

    public WeightType Type { get; }

    /// <summary>Row-major elements; row o starts at Data + o * RowBytes.</summary>
    public byte* Data { get; }

    /// <summary>One scale per row, w = stored * scale: int8's, and f16's where some row is stored times 2^10
    /// (<see cref="RescaleSubnormalRows"/>); null otherwise.</summary>
    public float* Scales { get; private set; }

    /// <summary>Int8 only: the sum of each row's stored integers, which the integer kernels subtract once per
    /// dot product to undo the +128 that makes activations unsigned (see <see cref="Int8Kernels"/>); null otherwise.</summary>
    public int* RowSums { get; }

    /// <summary>True when the bytes are the checkpoint's own mapped pages.</summary>
    public bool Mapped => !owned;

    public int RowBytes => Cols * ElementSize(Type);

    public long ByteCount => (long)Rows * RowBytes + (Scales == null ? 0 : Rows * sizeof(float)) + (RowSums == null ? 0 : Rows * sizeof(int));

    public static int ElementSize(WeightType type) => type switch
    {
        WeightType.F32 => 4,
        WeightType.F16 or WeightType.BF16 => 2,
        _ => 1,
    };

    /// <summary>Uses the checkpoint's bytes in place (no copy) when it already holds <paramref name="storage"/>; converts otherwise.</summary>
    public static Matrix Load(CheckpointTensor tensor, int rows, int cols, WeightType? storage) =>
        Load(tensor, rows, cols, storage, rescaleMappedSubnormals: SubnormalMultipliesAreSlow);

    /// <summary>Intel cores take a microcode assist for a multiply that reads a float subnormal; the AMD Zen cores we
    /// measured do not (ten-sequence f16 decode ran at the same rate with and without them).</summary>
    internal static readonly bool SubnormalMultipliesAreSlow = IsIntel();

    /// <param name="rescaleMappedSubnormals">Whether f16 rows with subnormals in a mapped checkpoint are rescaled
    /// (<see cref="RescaleSubnormalRows"/>), at the cost of copying their pages: 12 GB of GPT-J 6B loaded in 7.4 s on
    /// 16 Xeon cores, but 3.6 GB took 74 s on the 2-core AMD VM, whose copy-on-write faults are slow. Converted f16
    /// matrices are always rescaled: their memory is written anyway.</param>
    internal static Matrix Load(CheckpointTensor tensor, int rows, int cols, WeightType? storage, bool rescaleMappedSubnormals)
    {
        var source = tensor.WeightType;
        var target = storage ?? source;
        if (target == source)
        {
            var m = new Matrix(rows, cols, source, (byte*)tensor.Data, null, null, owned: false);
            // Looking at every half for subnormals faults every page in too.
            if (source == WeightType.F16 && rescaleMappedSubnormals) m.RescaleSubnormalRows();
            else m.Prefault();
            return m;
        }

        var data = (byte*)NativeMemory.AlignedAlloc((nuint)((long)rows * cols * ElementSize(target)), 64);
        var scales = target == WeightType.Int8 ? (float*)NativeMemory.AlignedAlloc((nuint)(rows * sizeof(float)), 64) : null;
        var sums = target == WeightType.Int8 ? (int*)NativeMemory.AlignedAlloc((nuint)(rows * sizeof(int)), 64) : null;
        var converted = new Matrix(rows, cols, target, data, scales, sums, owned: true);
        var sourceRowBytes = cols * ElementSize(source);
        Parallel.For(0, rows, () => new float[cols], (row, _, scratch) =>
        {
            ToFloat(source, (byte*)tensor.Data + (long)row * sourceRowBytes, null, scratch);
            converted.StoreRow(row, scratch);
            return scratch;
        }, _ => { });
        if (target == WeightType.F16) converted.RescaleSubnormalRows();
        return converted;
    }

    /// <summary>Row <paramref name="row"/> as floats (embedding lookup).</summary>
    public void RowToFloat(int row, Span<float> destination) =>
        ToFloat(Type, Data + (long)row * RowBytes, Scales == null ? null : Scales + row, destination[..Cols]);

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

    private void StoreRow(int row, ReadOnlySpan<float> values)
    {
        var target = Data + (long)row * RowBytes;
        switch (Type)
        {
            case WeightType.F32:
                values.CopyTo(new Span<float>(target, Cols));
                break;
            case WeightType.F16:
                TensorPrimitives.ConvertToHalf(values, new Span<Half>(target, Cols));
                break;
            case WeightType.BF16:
                var bf = (ushort*)target;
                for (var i = 0; i < Cols; i++)
                {
                    // Round to nearest even, as torch's float -> bfloat16 conversion does.
                    var bits = (uint)BitConverter.SingleToInt32Bits(values[i]);
                    bf[i] = (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
                }
                break;
            default:
                // Symmetric per-row quantization: scale = max|w| / 127, q = round(w / scale).
                var max = TensorPrimitives.MaxMagnitude(values);
                var scale = max != 0 ? MathF.Abs(max) / 127f : 1f;
                Scales[row] = scale;
                var q = (sbyte*)target;
                var sum = 0;
                for (var i = 0; i < Cols; i++)
                {
                    q[i] = (sbyte)Math.Clamp(MathF.Round(values[i] / scale), -127, 127);
                    sum += q[i];
                }
                RowSums[row] = sum;
                break;
        }
    }

    private static bool IsIntel()
    {
        if (!X86Base.IsSupported) return false;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        // The vendor string "GenuineIntel" in EBX, EDX, ECX.
        return ebx == 0x756E6547 && edx == 0x49656E69 && ecx == 0x6C65746E;
    }

    /// <summary>The scale of an f16 row stored times 2^10.</summary>
    private const float RescaledHalfRowScale = 1f / 1024;

    /// <summary>Stores each f16 row that holds a subnormal half times 2^10, with a scale of 2^-10, so that no weight the
    /// kernels read is subnormal; rows without one are not written, so a mapped checkpoint's pages stay shared.</summary>
    /// <remarks>The kernels widen halves by moving their bits (<see cref="Kernels.F16"/>), which turns a half subnormal
    /// (below 2^-14, 6.1e-5) into a float subnormal, and Intel cores take a microcode assist of about a hundred cycles
    /// for every multiply that reads one. Weights drawn around 0.02, as GPT-J's are, hold 0.2% of them, one vector of
    /// sixteen in 30: ten-sequence f16 decode on a 16-core Xeon ran at 2.0x its batch-1 rate (f32 5.4x) and no faster
    /// than on 2 cores. Times 2^10 every subnormal becomes a normal half and every product stays exact: a power of two
    /// changes no digit. A row holding a weight of 64 or more would overflow and keeps its subnormals (exact, slow on
    /// Intel). The kernels' finishing multiply applies the scale, as it does int8's.</remarks>
    private void RescaleSubnormalRows()
    {
        var scales = (float*)NativeMemory.AlignedAlloc((nuint)(Rows * sizeof(float)), 64);
        new Span<float>(scales, Rows).Fill(1f);
        var rescaledAny = 0;
        // One pass: a row is rescaled while it is still in cache from being looked at.
        Parallel.For(0, Rows, row =>
        {
            var halves = (ushort*)(Data + (long)row * RowBytes);
            if (!HoldsSubnormalBelow64(halves, Cols)) return;
            TimesTwoToTheTen(halves, Cols);
            scales[row] = RescaledHalfRowScale;
            Volatile.Write(ref rescaledAny, 1);
        });
        if (rescaledAny == 0) NativeMemory.AlignedFree(scales);
        else Scales = scales;
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

    /// <summary>Reads one byte per page so the mapped weights are resident before the first request.</summary>
    private void Prefault()
    {
        long sum = 0;
        var bytes = ByteCount;
        for (long i = 0; i < bytes; i += 4096) sum += Data[i];
        GC.KeepAlive(sum);
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (owned) NativeMemory.AlignedFree(Data);
        if (Scales != null) NativeMemory.AlignedFree(Scales);
        if (RowSums != null) NativeMemory.AlignedFree(RowSums);
    }
}
