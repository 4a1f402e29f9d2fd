using System.Numerics.Tensors;
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

    /// <summary>Int8 only: one scale per row (w = q * scale); null otherwise.</summary>
    public float* Scales { get; }

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
    public static Matrix Load(CheckpointTensor tensor, int rows, int cols, WeightType? storage)
    {
        var source = tensor.WeightType;
        var target = storage ?? source;
        if (target == source)
        {
            var m = new Matrix(rows, cols, source, (byte*)tensor.Data, null, null, owned: false);
            m.Prefault();
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
        if (!owned || disposed) return;
        disposed = true;
        NativeMemory.AlignedFree(Data);
        if (Scales != null) NativeMemory.AlignedFree(Scales);
        if (RowSums != null) NativeMemory.AlignedFree(RowSums);
    }
}
