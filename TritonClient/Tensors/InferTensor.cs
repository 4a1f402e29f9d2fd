namespace GptjAspire.TritonClient.Tensors;

/// <summary>A decoded tensor: its name, shape and elements flattened in row-major order.</summary>
public sealed record InferTensor<T>(string Name, long[] Shape, T[] Data)
{
    /// <summary>The element at a full index (one coordinate per dimension), row-major.</summary>
    public T this[params long[] index] => Data[TensorShape.FlatIndex(Name, Shape, index)];
}
