namespace GptjAspire.CpuBackend.Engine;

/// <summary>One tensor of a checkpoint: dtype, shape and the address of its bytes inside a mapped file.</summary>
internal sealed unsafe record CheckpointTensor(string Name, string DType, long[] Shape, nint Data)
{
    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["I64"] = 8, ["U64"] = 8,
        ["F32"] = 4, ["I32"] = 4, ["U32"] = 4,
        ["F16"] = 2, ["BF16"] = 2, ["I16"] = 2, ["U16"] = 2,
        ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    /// <summary>The file the tensor lies in, for errors; empty for tensors built over memory.</summary>
    public string File { get; init; } = "";

    /// <summary>The mapped file holding the data, where it is one.</summary>
    private MappedFile? Source { get; init; }

    /// <summary>Drops the process's pages of this tensor's bytes, where they are a mapped file's (<see cref="MappedFile.Release"/>).</summary>
    public void ReleasePages() => Source?.Release(Data - (nint)Source.Pointer, ByteCount);

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteCount => ElementCount * ElementSize(DType);

    /// <summary>Bytes per element for the dtypes a checkpoint may hold (safetensors names).</summary>
    public static int ElementSize(string dtype) =>
        ElementSizes.TryGetValue(dtype, out var size) ? size : throw new ArgumentException($"unknown tensor dtype '{dtype}'", nameof(dtype));

    /// <summary>The element type as weights, for the dtypes the engine reads.</summary>
    public WeightType WeightType => DType switch
    {
        "F32" => WeightType.F32,
        "F16" => WeightType.F16,
        "BF16" => WeightType.BF16,
        _ => throw new CheckpointFormatException(File, Name, $"has dtype {DType}; the engine reads F32, F16 or BF16"),
    };

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>The tensor whose bytes start at <paramref name="offset"/> in <paramref name="file"/>, after checking its dtype,
    /// that no dimension is negative, and that all its bytes lie inside the file, with arithmetic that cannot overflow.</summary>
    public static CheckpointTensor InFile(MappedFile file, string name, string dtype, long[] shape, long offset)
    {
        var size = ElementSizeIn(file, name, dtype);
        var bytes = CountElements(file, name, shape, file.Length / size, $"than the file's {file.Length} bytes hold") * size;
        if (!file.Contains(offset, bytes))
            throw file.Error($"its {bytes} bytes at offset {offset} run past the end of the file ({file.Length} bytes)", name);
        return new CheckpointTensor(name, dtype, shape, (nint)(file.Pointer + offset)) { File = file.Path, Source = file };
    }

    /// <summary>Bytes per element of <paramref name="dtype"/>, or an error naming the tensor when the dtype is unknown.</summary>
    public static int ElementSizeIn(MappedFile file, string tensor, string dtype) =>
        ElementSizes.TryGetValue(dtype, out var size)
            ? size
            : throw file.Error($"dtype '{dtype}' is not one of {string.Join(", ", ElementSizes.Keys)}", tensor);

    /// <summary>The product of <paramref name="shape"/>, or an error naming the tensor when a dimension is negative or the
    /// product exceeds <paramref name="limit"/> (checked dimension by dimension, so it never overflows);
    /// <paramref name="beyondLimit"/> says what the limit is ("than its storage of 4 elements").</summary>
    public static long CountElements(MappedFile file, string tensor, IReadOnlyList<long> shape, long limit, string beyondLimit)
    {
        long count = 1;
        foreach (var dimension in shape)
        {
            if (dimension < 0)
                throw file.Error($"shape [{string.Join(", ", shape)}] has a negative dimension", tensor);
            if (dimension != 0 && count > limit / dimension)
                throw file.Error($"shape [{string.Join(", ", shape)}] has more elements {beyondLimit}", tensor);
            count *= dimension;
        }
        return count;
    }
}
