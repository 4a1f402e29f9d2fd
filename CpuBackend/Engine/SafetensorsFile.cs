using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Reads the tensor table of a mapped safetensors file: 8-byte little-endian header size, JSON header, raw data.</summary>
/// <remarks>Every header entry is checked against the file before it becomes a pointer: an object with a known dtype,
/// a shape of non-negative integers, and data_offsets inside the data that hold exactly dtype × shape bytes.</remarks>
internal static class SafetensorsFile
{
    /// <summary>The largest header accepted (the safetensors format's own limit): a bound on what one file makes us parse.</summary>
    private const ulong MaxHeaderBytes = 100_000_000;

    public static List<CheckpointTensor> ReadTensors(MappedFile file)
    {
        if (file.Length < 8) throw file.Error($"{file.Length} bytes are too short for a safetensors header (an 8-byte size comes first)");
        var headerSize = BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(0, 8));
        if (headerSize > MaxHeaderBytes || headerSize > (ulong)(file.Length - 8))
            throw file.Error($"safetensors header size {headerSize} does not fit the file ({file.Length} bytes; at most {MaxHeaderBytes})");
        var dataStart = 8 + (long)headerSize;
        var dataLength = file.Length - dataStart;

        var text = file.Bytes(8, (long)headerSize);
        // JsonDocument checks UTF-8 only when a string is read, as an InvalidOperationException: check it first.
        if (!Utf8.IsValid(text)) throw file.Error("safetensors header is not valid UTF-8");
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(text.ToArray());
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(file.Path, null, $"safetensors header is not valid JSON: {e.Message}", e);
        }
        using (header)
        {
            if (header.RootElement.ValueKind != JsonValueKind.Object)
                throw file.Error($"safetensors header is a JSON {header.RootElement.ValueKind}, not an object of tensors");
            var tensors = new List<CheckpointTensor>();
            try
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var entry in header.RootElement.EnumerateObject())
                {
                    if (entry.Name == "__metadata__") continue;
                    if (!names.Add(entry.Name)) throw file.Error("appears twice in the header", entry.Name);
                    tensors.Add(ReadEntry(file, entry.Name, entry.Value, dataStart, dataLength));
                }
                ThrowIfOverlapping(file, tensors);
            }
            catch (InvalidOperationException e)
            {
                // What remains is an escape such as "\ud800" that decodes to no Unicode text.
                throw new CheckpointFormatException(file.Path, null, $"safetensors header holds a string that is not valid Unicode: {e.Message}", e);
            }
            return tensors;
        }
    }

    // The format forbids it, and two weights sharing bytes is a crafted or corrupt file, not a checkpoint.
    private static void ThrowIfOverlapping(MappedFile file, List<CheckpointTensor> tensors)
    {
        CheckpointTensor? previous = null;
        foreach (var tensor in tensors.Where(t => t.ByteCount > 0).OrderBy(t => t.Data))
        {
            if (previous is not null && tensor.Data < previous.Data + (nint)previous.ByteCount)
                throw file.Error($"its data_offsets overlap those of '{previous.Name}'", tensor.Name);
            previous = tensor;
        }
    }

    private static CheckpointTensor ReadEntry(MappedFile file, string name, JsonElement entry, long dataStart, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw file.Error($"header entry is a JSON {entry.ValueKind}, not an object with dtype, shape and data_offsets", name);
        var dtype = Field(file, name, entry, "dtype", JsonValueKind.String).GetString()!;
        var shape = Integers(file, name, Field(file, name, entry, "shape", JsonValueKind.Array), "shape");
        var offsets = Integers(file, name, Field(file, name, entry, "data_offsets", JsonValueKind.Array), "data_offsets");
        if (offsets is not [var begin, var end] || begin < 0 || begin > end || end > dataLength)
            throw file.Error($"data_offsets [{string.Join(", ", offsets)}] are not a range inside the data ({dataLength} bytes)", name);
        var tensor = CheckpointTensor.InFile(file, name, dtype, shape, dataStart + begin);
        if (tensor.ByteCount != end - begin)
            throw file.Error($"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype}{tensor.ShapeText} needs {tensor.ByteCount}", name);
        return tensor;
    }

    private static JsonElement Field(MappedFile file, string tensor, JsonElement entry, string field, JsonValueKind kind)
    {
        if (!entry.TryGetProperty(field, out var value))
            throw file.Error($"header entry has no '{field}'", tensor);
        if (value.ValueKind != kind)
            throw file.Error($"'{field}' is a JSON {value.ValueKind}, not a {kind}", tensor);
        return value;
    }

    private static long[] Integers(MappedFile file, string tensor, JsonElement array, string field) =>
        array.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v)
                ? v
                : throw file.Error($"'{field}' holds {e.GetRawText()}, not a 64-bit integer", tensor))
            .ToArray();
}
