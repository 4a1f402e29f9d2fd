namespace GptjAspire.TritonClient.Tensors;

/// <summary>A tensor whose name, datatype, shape or byte size does not fit what was expected; the message names the tensor.</summary>
public sealed class TensorFormatException(string tensorName, string message) : Exception(message)
{
    /// <summary>The tensor at fault.</summary>
    public string TensorName { get; } = tensorName;
}
