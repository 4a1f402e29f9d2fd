namespace GptjAspire.TritonClient.Tensors;

/// <summary>Element counts and index arithmetic for KServe tensor shapes.</summary>
public static class TensorShape
{
    /// <summary>The number of elements a shape holds; throws when a dimension is negative or the count does not fit 64 bits.</summary>
    public static long ElementCount(string tensorName, IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (var dim in shape)
        {
            if (dim < 0)
            {
                throw new TensorFormatException(tensorName, $"Tensor '{tensorName}' has shape {Format(shape)}: a request shape cannot have a negative dimension.");
            }
            if (dim != 0 && count > long.MaxValue / dim)
            {
                throw new TensorFormatException(tensorName, $"Tensor '{tensorName}' has shape {Format(shape)}: more elements than a 64-bit count holds.");
            }
            count *= dim;
        }
        return count;
    }

    /// <summary>The shape written as KServe documents it, e.g. "[1, 2, -1]".</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    internal static long FlatIndex(string tensorName, long[] shape, long[] index)
    {
        if (index.Length != shape.Length)
        {
            throw new ArgumentException($"Tensor '{tensorName}' has {shape.Length} dimensions; got an index with {index.Length}.", nameof(index));
        }
        long flat = 0;
        for (var i = 0; i < shape.Length; i++)
        {
            if ((ulong)index[i] >= (ulong)shape[i])
            {
                throw new ArgumentOutOfRangeException(nameof(index), $"Index {index[i]} is outside dimension {i} of tensor '{tensorName}' with shape {Format(shape)}.");
            }
            flat = flat * shape[i] + index[i];
        }
        return flat;
    }
}
