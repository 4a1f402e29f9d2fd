using System.Buffers.Binary;
using System.Text.Json;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Reads the tensor table of a mapped safetensors file: 8-byte little-endian header size, JSON header, raw data.</summary>
internal static unsafe class SafetensorsFile
{
    public static void ReadTensors(MappedFile file, IDictionary<string, CheckpointTensor> into)
    {
        if (file.Length < 8) throw new InvalidDataException($"{file.Path}: too short for a safetensors header");
        var headerSize = BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(0, 8));
        if (headerSize > (ulong)(file.Length - 8) || headerSize > 100_000_000)
            throw new InvalidDataException($"{file.Path}: safetensors header size {headerSize} does not fit the file");
        var dataStart = 8 + (long)headerSize;
        var dataLength = file.Length - dataStart;

        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(file.Bytes(8, (long)headerSize).ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file.Path}: safetensors header is not valid JSON: {e.Message}", e);
        }
        using (header)
        {
            foreach (var entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var name = entry.Name;
                try
                {
                    var dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                    var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                        throw new InvalidDataException($"data_offsets [{string.Join(", ", offsets)}] lie outside the data ({dataLength} bytes)");
                    var tensor = new CheckpointTensor(name, dtype, shape, (nint)(file.Pointer + dataStart + offsets[0]));
                    var expected = tensor.ElementCount * CheckpointTensor.ElementSize(dtype);
                    if (offsets[1] - offsets[0] != expected)
                        throw new InvalidDataException($"holds {offsets[1] - offsets[0]} bytes but {dtype}{tensor.ShapeText} needs {expected}");
                    into[name] = tensor;
                }
                catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or InvalidDataException)
                {
                    throw new InvalidDataException($"{file.Path}: tensor '{name}': {e.Message}", e);
                }
            }
        }
    }
}
