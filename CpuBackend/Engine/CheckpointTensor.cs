namespace GptjAspire.CpuBackend.Engine;

/// <summary>One tensor of a checkpoint: dtype, shape and the address of its bytes inside a mapped file.</summary>
internal sealed record CheckpointTensor(string Name, string DType, long[] Shape, nint Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Bytes per element for the dtypes a checkpoint may hold (safetensors names).</summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new InvalidDataException($"unknown tensor dtype '{dtype}'"),
    };

    /// <summary>The element type as weights, for the dtypes the engine reads.</summary>
    public WeightType WeightType => DType switch
    {
        "F32" => WeightType.F32,
        "F16" => WeightType.F16,
        "BF16" => WeightType.BF16,
        _ => throw new InvalidDataException($"tensor '{Name}' has dtype {DType}; the engine reads F32, F16 or BF16"),
    };

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
