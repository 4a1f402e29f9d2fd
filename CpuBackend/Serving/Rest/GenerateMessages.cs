using System.Text.Json;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.CpuBackend.Serving.Rest;

/// <summary>Triton's generate extension (<c>POST v2/models/{name}/generate</c> and <c>.../generate_stream</c>): one flat JSON
/// object whose keys name the model's inputs, to and from the gRPC messages.</summary>
/// <remarks>Mapped as Triton maps it. A key that names an input is that tensor, given as a value or a one-dimensional array
/// and shaped by the model's metadata: fixed dimensions divide the element count, the innermost variable dimension takes
/// what is left and any other is 1 (so <c>"input_ids": [5, 6, 7]</c> is [1, 3] and <c>"request_output_len": 20</c> is
/// [1, 1]). Every other key, and every key of a <c>parameters</c> object, is a request parameter; <c>id</c> is the request
/// id. A response is one object: the id, <c>model_name</c>, <c>model_version</c> and each output tensor, as a value when
/// it has one element and as a flat array otherwise.</remarks>
internal static class GenerateMessages
{
    private const string ParametersKey = "parameters";
    private const string IdKey = "id";

    // What Triton's own generate examples send, to an ensemble with a tokenizer in front of TensorRT-LLM.
    private const string TextInputKey = "text_input";

    /// <exception cref="RestRequestException">The body is not a valid generate request; the message names what is wrong.</exception>
    public static ModelInferRequest Read(ReadOnlyMemory<byte> body, string modelName, string modelVersion)
    {
        var request = new ModelInferRequest { ModelName = modelName, ModelVersion = modelVersion };
        if (body.IsEmpty)
            return request; // as Triton: an empty body is an empty request, which then names the inputs it lacks
        using (var document = RestRequestBody.ParseJson(body))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new RestRequestException("The request must be a JSON object whose keys name the model's inputs.");
            if (root.TryGetProperty(TextInputKey, out _) && !IsInput(TextInputKey))
                throw new RestRequestException(
                    $"This model takes token ids, not text: send '{GenerationContract.InputIds}' (and '{GenerationContract.InputLengths}', '{GenerationContract.RequestOutputLen}'); " +
                    $"'{TextInputKey}' is for a Triton ensemble with a tokenizer in front, which is what the Preprocessor and the Gateway are here.");
            var seen = new HashSet<string>();
            foreach (var member in root.EnumerateObject())
            {
                if (member.Name == IdKey)
                {
                    request.Id = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString()! : throw new RestRequestException($"'{IdKey}' must be a string.");
                    continue;
                }
                if (member.Name == ParametersKey && !IsInput(ParametersKey))
                {
                    if (member.Value.ValueKind != JsonValueKind.Object)
                        throw new RestRequestException($"'{ParametersKey}' must be an object.");
                    foreach (var nested in member.Value.EnumerateObject())
                        Add(nested, request, seen, $"{ParametersKey}.");
                    continue;
                }
                Add(member, request, seen, "");
            }
        }
        return request;
    }

    /// <summary>The JSON of one response: id, model name and version, parameters (not Triton's stream marker), and each output.</summary>
    public static byte[] Write(ModelInferResponse response)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            if (response.Id.Length > 0)
                json.WriteString(IdKey, response.Id);
            json.WriteString("model_name", response.ModelName);
            json.WriteString("model_version", response.ModelVersion);
            foreach (var (name, parameter) in response.Parameters)
            {
                if (name == GenerationContract.FinalResponseParameter)
                    continue; // the gRPC stream's marker; here the end of the body or of the event stream says it
                json.WritePropertyName(name);
                WriteParameter(json, parameter);
            }
            for (var i = 0; i < response.Outputs.Count; i++)
            {
                var tensor = response.Outputs[i];
                json.WritePropertyName(tensor.Name);
                var single = tensor.Shape.Aggregate(1L, (count, dimension) => count * dimension) == 1;
                if (!single)
                    json.WriteStartArray();
                RestInferMessages.WriteElements(json, tensor.Datatype, response.RawOutputContents[i].Span);
                if (!single)
                    json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>A key that names an input becomes that tensor; any other, a request parameter.</summary>
    private static void Add(JsonProperty member, ModelInferRequest request, HashSet<string> seen, string where)
    {
        if (!seen.Add(member.Name))
            throw new RestRequestException($"'{member.Name}' is given twice (at the top level and in '{ParametersKey}', or twice in one object).");
        var input = GenerationContract.Inputs.FirstOrDefault(tensor => tensor.Name == member.Name);
        if (input is null)
        {
            request.Parameters[member.Name] = RestRequestBody.Parameter(member.Value) ?? throw new RestRequestException(
                $"'{where + member.Name}' is neither an input of this model nor a parameter: a parameter must be a boolean, number or string. The inputs are {string.Join(", ", GenerationContract.Inputs.Select(i => $"'{i.Name}'"))}.");
            return;
        }
        var count = member.Value.ValueKind == JsonValueKind.Array ? member.Value.GetArrayLength() : 1;
        if (member.Value.ValueKind == JsonValueKind.Array && member.Value.EnumerateArray().Any(element => element.ValueKind == JsonValueKind.Array))
            throw new RestRequestException($"Input '{member.Name}' must be a value or a one-dimensional array; the generate extension shapes it from the model's metadata ({Describe(input.Shape)}).");
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = input.Name, Datatype = input.Datatype, Shape = { Shape(input, count) } };
        request.Inputs.Add(tensor);
        request.RawInputContents.Add(RestInferMessages.Encode(input.Name, input.Datatype, member.Value));
    }

    /// <summary>Triton's two passes: the fixed dimensions divide the count; the innermost variable one takes the rest, others are 1.</summary>
    private static long[] Shape(GenerationTensor input, int count)
    {
        var shape = (long[])input.Shape.Clone();
        long left = count;
        foreach (var dimension in shape.Where(d => d != -1))
        {
            if (left % dimension != 0)
                throw new RestRequestException($"Input '{input.Name}' has {count} elements, which do not fill its shape {Describe(input.Shape)}.");
            left /= dimension;
        }
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != -1)
                continue;
            shape[i] = left;
            left = 1;
        }
        return shape;
    }

    private static void WriteParameter(Utf8JsonWriter json, InferParameter parameter)
    {
        switch (parameter.ParameterChoiceCase)
        {
            case InferParameter.ParameterChoiceOneofCase.BoolParam: json.WriteBooleanValue(parameter.BoolParam); break;
            case InferParameter.ParameterChoiceOneofCase.Int64Param: json.WriteNumberValue(parameter.Int64Param); break;
            case InferParameter.ParameterChoiceOneofCase.Uint64Param: json.WriteNumberValue(parameter.Uint64Param); break;
            case InferParameter.ParameterChoiceOneofCase.DoubleParam: json.WriteNumberValue(parameter.DoubleParam); break;
            default: json.WriteStringValue(parameter.StringParam); break;
        }
    }

    private static bool IsInput(string name) => GenerationContract.Inputs.Any(tensor => tensor.Name == name);

    private static string Describe(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
