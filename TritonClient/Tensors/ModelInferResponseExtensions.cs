using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.TritonClient.Tensors;

/// <summary>Typed output tensors on a <see cref="ModelInferResponse"/>.</summary>
public static class ModelInferResponseExtensions
{
    /// <summary>Appends an output tensor with its elements in <c>raw_output_contents</c> (element types as for inputs).</summary>
    public static ModelInferResponse AddOutput<T>(this ModelInferResponse response, string name, long[] shape, ReadOnlySpan<T> values)
    {
        ModelInferRequestExtensions.CheckCount(name, shape, values.Length);
        var tensor = new ModelInferResponse.Types.InferOutputTensor { Name = name, Datatype = TensorElements.DatatypeOf<T>() };
        tensor.Shape.Add(shape);
        response.Outputs.Add(tensor);
        response.RawOutputContents.Add(TensorElements.ToRaw(values));
        return response;
    }

    /// <summary>Reads the output named <paramref name="name"/> from raw or typed contents, or null when the response lacks it.</summary>
    /// <exception cref="TensorFormatException">The datatype, shape or byte size does not fit.</exception>
    public static InferTensor<T>? FindOutput<T>(this ModelInferResponse response, string name)
    {
        for (var i = 0; i < response.Outputs.Count; i++)
        {
            var output = response.Outputs[i];
            if (output.Name != name)
            {
                continue;
            }
            Google.Protobuf.ByteString? raw = null;
            if (response.RawOutputContents.Count > 0)
            {
                if (response.RawOutputContents.Count != response.Outputs.Count)
                {
                    throw new TensorFormatException(name, $"The response has {response.RawOutputContents.Count} raw_output_contents entries for {response.Outputs.Count} outputs.");
                }
                raw = response.RawOutputContents[i];
            }
            return TensorElements.Read<T>(name, output.Datatype, output.Shape, output.Contents, raw);
        }
        return null;
    }

    /// <summary>Reads the output named <paramref name="name"/>; throws when the response lacks it.</summary>
    public static InferTensor<T> GetOutput<T>(this ModelInferResponse response, string name) =>
        response.FindOutput<T>(name) ?? throw new TensorFormatException(name, $"The response has no output tensor '{name}' (it has: {string.Join(", ", response.Outputs.Select(o => o.Name))}).");

    /// <summary>True when the response carries <c>triton_final_response</c> = true: the last response to its request on a decoupled stream.</summary>
    public static bool IsFinalResponse(this ModelInferResponse response) =>
        response.Parameters.TryGetValue(GenerationContract.FinalResponseParameter, out var value) && value.BoolParam;
}
