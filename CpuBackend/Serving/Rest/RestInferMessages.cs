using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.CpuBackend.Serving.Rest;

/// <summary>KServe v2 REST inference messages (JSON, with Triton's binary tensor data extension) to and from the gRPC ones.</summary>
/// <remarks>With the extension a body is a JSON header of <c>Inference-Header-Content-Length</c> bytes followed by the raw
/// tensors: an input whose <c>parameters.binary_data_size</c> is set takes that many bytes, in the order of the inputs; an
/// output asked for with <c>parameters.binary_data</c> (or every output, with the request's <c>binary_data_output</c>)
/// comes back the same way. tritonclient.http sends and asks for binary data by default; curl users send JSON.</remarks>
internal static class RestInferMessages
{
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    private const string BinaryDataSize = "binary_data_size";
    private const string BinaryData = "binary_data";
    private const string BinaryDataOutput = "binary_data_output";

    /// <summary>The gRPC request a REST body describes, and which outputs the caller wants back as binary data.</summary>
    /// <exception cref="RestRequestException">The body is not a valid request; the message names what is wrong.</exception>
    public static (ModelInferRequest Request, RequestedOutputs Outputs) Read(ReadOnlyMemory<byte> body, int? headerLength, string modelName, string modelVersion)
    {
        if (headerLength is { } length && (length < 0 || length > body.Length))
            throw new RestRequestException($"{HeaderLengthHeader} is {length}, but the body holds {body.Length} bytes.");
        var json = headerLength is { } n ? body[..n] : body;
        var binary = headerLength is { } m ? body[m..] : ReadOnlyMemory<byte>.Empty;
        using (var document = RestRequestBody.ParseJson(json, $"; send large tensors as binary data ({HeaderLengthHeader})"))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new RestRequestException("The request must be a JSON object.");
            var request = new ModelInferRequest { ModelName = modelName, ModelVersion = modelVersion };
            if (root.TryGetProperty("id", out var id))
                request.Id = id.ValueKind == JsonValueKind.String ? id.GetString()! : throw new RestRequestException("'id' must be a string.");
            var binaryOutputs = false;
            if (root.TryGetProperty("parameters", out var parameters))
                binaryOutputs = ReadParameters(parameters, "parameters", request.Parameters, BinaryDataOutput) ?? false;
            if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
                throw new RestRequestException("'inputs' must be an array of tensors.");
            var offset = 0;
            foreach (var input in inputs.EnumerateArray())
                offset += ReadInput(input, request, binary[offset..]);
            if (offset != binary.Length)
                throw new RestRequestException($"The inputs' binary_data_size add up to {offset} bytes, but {binary.Length} follow the JSON header.");
            var outputs = new RequestedOutputs(binaryOutputs);
            if (root.TryGetProperty("outputs", out var requested))
            {
                if (requested.ValueKind != JsonValueKind.Array)
                    throw new RestRequestException("'outputs' must be an array.");
                foreach (var output in requested.EnumerateArray())
                {
                    var name = Name(output, "outputs");
                    var binaryOutput = binaryOutputs;
                    if (output.TryGetProperty("parameters", out var outputParameters))
                        binaryOutput = ReadParameters(outputParameters, $"outputs '{name}' parameters", new Dictionary<string, InferParameter>(), BinaryData) ?? binaryOutputs;
                    request.RequestOutput(name);
                    outputs.Add(name, binaryOutput);
                }
            }
            return (request, outputs);
        }
    }

    /// <summary>The REST body of a response: JSON alone, or a JSON header followed by the binary outputs (its length to send as <see cref="HeaderLengthHeader"/>).</summary>
    public static (byte[] Body, int? HeaderLength) Write(ModelInferResponse response, RequestedOutputs requested)
    {
        var binary = new List<ByteString>();
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("model_name", response.ModelName);
            json.WriteString("model_version", response.ModelVersion);
            if (response.Id.Length > 0)
                json.WriteString("id", response.Id);
            json.WriteStartArray("outputs");
            for (var i = 0; i < response.Outputs.Count; i++)
            {
                var tensor = response.Outputs[i];
                var raw = response.RawOutputContents[i];
                json.WriteStartObject();
                json.WriteString("name", tensor.Name);
                json.WriteString("datatype", tensor.Datatype);
                json.WriteStartArray("shape");
                foreach (var dimension in tensor.Shape)
                    json.WriteNumberValue(dimension);
                json.WriteEndArray();
                if (requested.Binary(tensor.Name))
                {
                    json.WriteStartObject("parameters");
                    json.WriteNumber(BinaryDataSize, raw.Length);
                    json.WriteEndObject();
                    binary.Add(raw);
                }
                else
                {
                    json.WriteStartArray("data");
                    WriteElements(json, tensor.Datatype, raw.Span);
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        if (binary.Count == 0)
            return (stream.ToArray(), null);
        var headerLength = (int)stream.Length;
        foreach (var raw in binary)
            raw.WriteTo(stream);
        return (stream.ToArray(), headerLength);
    }

    /// <summary>Reads one input into the request; returns the binary bytes it took.</summary>
    private static int ReadInput(JsonElement input, ModelInferRequest request, ReadOnlyMemory<byte> binary)
    {
        var name = Name(input, "inputs");
        if (!input.TryGetProperty("datatype", out var datatypeElement) || datatypeElement.ValueKind != JsonValueKind.String)
            throw new RestRequestException($"Input '{name}' needs a 'datatype' string.");
        var datatype = datatypeElement.GetString()!;
        if (!input.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new RestRequestException($"Input '{name}' needs a 'shape' array.");
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = datatype };
        foreach (var dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt64(out var size))
                throw new RestRequestException($"Input '{name}' has a shape entry that is not an integer: {dimension.GetRawText()}.");
            tensor.Shape.Add(size);
        }
        long? binarySize = null;
        if (input.TryGetProperty("parameters", out var parameters))
        {
            if (parameters.ValueKind != JsonValueKind.Object)
                throw new RestRequestException($"Input '{name}' parameters must be an object.");
            if (parameters.TryGetProperty(BinaryDataSize, out var size))
                binarySize = size.ValueKind == JsonValueKind.Number && size.TryGetInt64(out var bytes) && bytes >= 0 ? bytes : throw new RestRequestException($"Input '{name}' has a {BinaryDataSize} that is not a byte count: {size.GetRawText()}.");
        }
        request.Inputs.Add(tensor);
        if (binarySize is { } count)
        {
            if (input.TryGetProperty("data", out _))
                throw new RestRequestException($"Input '{name}' has both 'data' and {BinaryDataSize}; send one.");
            if (count > binary.Length)
                throw new RestRequestException($"Input '{name}' declares {count} bytes of binary data, but only {binary.Length} are left after the JSON header.");
            request.RawInputContents.Add(ByteString.CopyFrom(binary.Span[..(int)count]));
            return (int)count;
        }
        if (!input.TryGetProperty("data", out var data))
            throw new RestRequestException($"Input '{name}' has neither 'data' nor {BinaryDataSize}.");
        request.RawInputContents.Add(Encode(name, datatype, data));
        return 0;
    }

    /// <summary>The elements of a JSON 'data' array (nested arrays are flattened row-major) in the tensor's raw form.</summary>
    internal static ByteString Encode(string name, string datatype, JsonElement data)
    {
        if (datatype == KServeDatatype.Bytes)
        {
            var elements = new List<byte[]>();
            ForEachElement(data, element =>
                elements.Add(element.ValueKind == JsonValueKind.String ? Encoding.UTF8.GetBytes(element.GetString()!) : throw Element(name, datatype, element)));
            return TensorCodec.EncodeBytes(elements);
        }
        var size = KServeDatatype.ElementSize(datatype) ?? throw new RestRequestException($"Input '{name}' has datatype '{datatype}', which KServe v2 does not define.");
        // Counted first and written in place: a list of the elements would hold about twelve times the body's size.
        var count = 0;
        ForEachElement(data, _ => count++);
        var result = new byte[count * size];
        var at = 0;
        ForEachElement(data, element =>
        {
            var target = result.AsSpan(at, size);
            at += size;
            // JsonElement's TryGet methods throw on anything but a number, so the kind is checked first.
            var written = datatype == KServeDatatype.Bool
                ? element.ValueKind is JsonValueKind.True or JsonValueKind.False && Set(target, element.GetBoolean() ? (byte)1 : (byte)0)
                : element.ValueKind == JsonValueKind.Number && datatype switch
            {
                KServeDatatype.Int8 => element.TryGetSByte(out var v8) && Set(target, (byte)v8),
                KServeDatatype.UInt8 => element.TryGetByte(out var u8) && Set(target, u8),
                KServeDatatype.Int16 => element.TryGetInt16(out var v16) && Write(target, v16, BinaryPrimitives.WriteInt16LittleEndian),
                KServeDatatype.UInt16 => element.TryGetUInt16(out var u16) && Write(target, u16, BinaryPrimitives.WriteUInt16LittleEndian),
                KServeDatatype.Int32 => element.TryGetInt32(out var v32) && Write(target, v32, BinaryPrimitives.WriteInt32LittleEndian),
                KServeDatatype.UInt32 => element.TryGetUInt32(out var u32) && Write(target, u32, BinaryPrimitives.WriteUInt32LittleEndian),
                KServeDatatype.Int64 => element.TryGetInt64(out var v64) && Write(target, v64, BinaryPrimitives.WriteInt64LittleEndian),
                KServeDatatype.UInt64 => element.TryGetUInt64(out var u64) && Write(target, u64, BinaryPrimitives.WriteUInt64LittleEndian),
                KServeDatatype.Fp16 => element.TryGetDouble(out var h) && Write(target, (Half)h, BinaryPrimitives.WriteHalfLittleEndian),
                KServeDatatype.Bf16 => element.TryGetDouble(out var b) && Write(target, (ushort)(BitConverter.SingleToUInt32Bits((float)b) >> 16), BinaryPrimitives.WriteUInt16LittleEndian),
                KServeDatatype.Fp32 => element.TryGetDouble(out var f) && Write(target, (float)f, BinaryPrimitives.WriteSingleLittleEndian),
                KServeDatatype.Fp64 => element.TryGetDouble(out var d) && Write(target, d, BinaryPrimitives.WriteDoubleLittleEndian),
                _ => false,
            };
            if (!written)
                throw Element(name, datatype, element);
        });
        return UnsafeByteOperations.UnsafeWrap(result); // result is not touched again
    }

    /// <summary>The elements of a 'data' array, nested arrays flattened row-major.</summary>
    private static void ForEachElement(JsonElement data, Action<JsonElement> action)
    {
        if (data.ValueKind != JsonValueKind.Array)
        {
            action(data);
            return;
        }
        foreach (var item in data.EnumerateArray())
            ForEachElement(item, action);
    }

    private static bool Set(Span<byte> target, byte value)
    {
        target[0] = value;
        return true;
    }

    private static bool Write<T>(Span<byte> target, T value, SpanAction<T> write)
    {
        write(target, value);
        return true;
    }

    private delegate void SpanAction<in T>(Span<byte> target, T value);

    private static RestRequestException Element(string name, string datatype, JsonElement element) =>
        new($"Input '{name}' holds {element.GetRawText()}, which is not a valid {datatype} element.");

    /// <summary>Writes a raw tensor's elements as JSON values, one after another (the caller opens the array, if any).</summary>
    internal static void WriteElements(Utf8JsonWriter json, string datatype, ReadOnlySpan<byte> raw)
    {
        var size = KServeDatatype.ElementSize(datatype) ?? 1;
        for (var at = 0; at + size <= raw.Length; at += size)
        {
            var element = raw.Slice(at, size);
            switch (datatype)
            {
                case KServeDatatype.Bool: json.WriteBooleanValue(element[0] != 0); break;
                case KServeDatatype.Int8: json.WriteNumberValue((sbyte)element[0]); break;
                case KServeDatatype.UInt8: json.WriteNumberValue(element[0]); break;
                case KServeDatatype.Int16: json.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(element)); break;
                case KServeDatatype.UInt16: json.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(element)); break;
                case KServeDatatype.Int32: json.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(element)); break;
                case KServeDatatype.UInt32: json.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(element)); break;
                case KServeDatatype.Int64: json.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(element)); break;
                case KServeDatatype.UInt64: json.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(element)); break;
                case KServeDatatype.Fp32: WriteFloat(json, BinaryPrimitives.ReadSingleLittleEndian(element)); break;
                case KServeDatatype.Fp64: WriteFloat(json, BinaryPrimitives.ReadDoubleLittleEndian(element)); break;
                case KServeDatatype.Fp16: WriteFloat(json, (double)BinaryPrimitives.ReadHalfLittleEndian(element)); break;
                default: throw new InvalidOperationException($"Output datatype {datatype} has no JSON form here.");
            }
        }
    }

    // JSON has no spelling for infinity or NaN (a -inf log probability, say): Triton writes them as strings.
    private static void WriteFloat(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value)) json.WriteNumberValue(value);
        else json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }

    private static string Name(JsonElement tensor, string list)
    {
        if (tensor.ValueKind != JsonValueKind.Object)
            throw new RestRequestException($"Each entry of '{list}' must be an object.");
        return tensor.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : throw new RestRequestException($"Each entry of '{list}' needs a 'name' string.");
    }

    /// <summary>Copies a parameters object into <paramref name="target"/>, except <paramref name="restOnly"/>, whose boolean value it returns.</summary>
    private static bool? ReadParameters(JsonElement parameters, string where, IDictionary<string, InferParameter> target, string restOnly)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
            throw new RestRequestException($"'{where}' must be an object.");
        bool? flag = null;
        foreach (var parameter in parameters.EnumerateObject())
        {
            var value = parameter.Value;
            if (parameter.Name == restOnly)
            {
                flag = value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw new RestRequestException($"'{where}.{restOnly}' must be true or false.");
                continue;
            }
            target[parameter.Name] = RestRequestBody.Parameter(value)
                ?? throw new RestRequestException($"'{where}.{parameter.Name}' must be a boolean, number or string.");
        }
        return flag;
    }
}

/// <summary>Which outputs a REST caller wants back as binary data. (Which outputs come back at all the request itself says:
/// the server answers only those it names, or all when it names none.)</summary>
internal sealed class RequestedOutputs(bool binaryByDefault)
{
    private readonly Dictionary<string, bool> named = [];

    public void Add(string name, bool binary) => named[name] = binary;

    public bool Binary(string name) => named.TryGetValue(name, out var binary) ? binary : binaryByDefault;
}

/// <summary>A REST body that is not a valid inference request, and the HTTP status that says so.</summary>
internal sealed class RestRequestException(string message, int statusCode = StatusCodes.Status400BadRequest) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
