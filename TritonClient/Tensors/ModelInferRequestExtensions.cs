using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.TritonClient.Tensors;

/// <summary>Typed input tensors on a <see cref="ModelInferRequest"/>, in raw form as Triton's own clients send them.</summary>
public static class ModelInferRequestExtensions
{
    /// <summary>Appends an input tensor (int → INT32, long → INT64, ulong → UINT64, float → FP32, Half → FP16, bool → BOOL, byte[] or UTF-8 string → BYTES) with its elements in <c>raw_input_contents</c>.</summary>
    /// <exception cref="ArgumentException">The element count does not match the shape.</exception>
    public static ModelInferRequest AddInput<T>(this ModelInferRequest request, string name, long[] shape, ReadOnlySpan<T> values)
    {
        CheckCount(name, shape, values.Length);
        if (request.Inputs.Any(i => i.Contents is not null))
        {
            // KServe v2: raw_input_contents excludes typed contents on every input of the request.
            throw new InvalidOperationException("The request already carries typed contents; raw and typed inputs cannot be mixed.");
        }
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = TensorElements.DatatypeOf<T>() };
        tensor.Shape.Add(shape);
        request.Inputs.Add(tensor);
        request.RawInputContents.Add(TensorElements.ToRaw(values));
        return request;
    }

    /// <summary>Asks for one output by name (without any, the server returns every output).</summary>
    public static ModelInferRequest RequestOutput(this ModelInferRequest request, string name)
    {
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = name });
        return request;
    }

    /// <summary>Reads the input named <paramref name="name"/> from raw or typed contents, or null when the request lacks it.</summary>
    /// <exception cref="TensorFormatException">The datatype, shape or byte size does not fit.</exception>
    public static InferTensor<T>? FindInput<T>(this ModelInferRequest request, string name)
    {
        var index = IndexOf(request, name);
        if (index < 0)
        {
            return null;
        }
        var input = request.Inputs[index];
        var raw = RawContents(request, index);
        return TensorElements.Read<T>(name, input.Datatype, input.Shape, input.Contents, raw);
    }

    /// <summary>Reads the input named <paramref name="name"/>; throws when the request lacks it.</summary>
    public static InferTensor<T> GetInput<T>(this ModelInferRequest request, string name) =>
        request.FindInput<T>(name) ?? throw new TensorFormatException(name, $"The request has no input tensor '{name}'.");

    private static int IndexOf(ModelInferRequest request, string name)
    {
        for (var i = 0; i < request.Inputs.Count; i++)
        {
            if (request.Inputs[i].Name == name)
            {
                return i;
            }
        }
        return -1;
    }

    private static Google.Protobuf.ByteString? RawContents(ModelInferRequest request, int index)
    {
        if (request.RawInputContents.Count == 0)
        {
            return null;
        }
        var name = request.Inputs[index].Name;
        if (request.RawInputContents.Count != request.Inputs.Count)
        {
            throw new TensorFormatException(name, $"The request has {request.RawInputContents.Count} raw_input_contents entries for {request.Inputs.Count} inputs; there must be one per input.");
        }
        if (request.Inputs[index].Contents is not null)
        {
            throw new TensorFormatException(name, $"Tensor '{name}' has typed contents although the request uses raw_input_contents.");
        }
        return request.RawInputContents[index];
    }

    internal static void CheckCount(string name, long[] shape, int count)
    {
        long expected = 1;
        foreach (var dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"Tensor '{name}' shape {TensorShape.Format(shape)} has a negative dimension.", nameof(shape));
            }
            expected *= dim;
        }
        if (expected != count)
        {
            throw new ArgumentException($"Tensor '{name}' shape {TensorShape.Format(shape)} holds {expected} elements; {count} were given.", nameof(shape));
        }
    }
}
