using System.Text.Json;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The tensors of a Hugging Face model folder, memory-mapped from safetensors or PyTorch files, single or sharded.</summary>
internal sealed class Checkpoint : IDisposable
{
    private readonly List<MappedFile> files;

    private Checkpoint(string description, List<MappedFile> files, Dictionary<string, CheckpointTensor> tensors)
    {
        Description = description;
        this.files = files;
        Tensors = tensors;
    }

    /// <summary>Which files the tensors came from, for logs.</summary>
    public string Description { get; }

    public IReadOnlyDictionary<string, CheckpointTensor> Tensors { get; }

    /// <summary>Opens the first present of model.safetensors, its sharded index, pytorch_model.bin, its sharded index.</summary>
    public static Checkpoint Open(string directory)
    {
        string In(string name) => Path.Combine(directory, name);
        if (File.Exists(In("model.safetensors"))) return Load(directory, ["model.safetensors"], SafetensorsFile.ReadTensors);
        if (File.Exists(In("model.safetensors.index.json"))) return Load(directory, Shards(In("model.safetensors.index.json")), SafetensorsFile.ReadTensors);
        if (File.Exists(In("pytorch_model.bin"))) return Load(directory, ["pytorch_model.bin"], PytorchFile.ReadTensors);
        if (File.Exists(In("pytorch_model.bin.index.json"))) return Load(directory, Shards(In("pytorch_model.bin.index.json")), PytorchFile.ReadTensors);
        throw new FileNotFoundException(
            $"{directory} holds no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json");
    }

    private static List<string> Shards(string indexPath)
    {
        try
        {
            using var index = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            var files = index.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(e => e.Value.GetString() ?? throw new InvalidDataException("weight_map value is not a string"))
                .Distinct().Order(StringComparer.Ordinal).ToList();
            foreach (var f in files)
                if (f.Contains('/') || f.Contains('\\') || f.Contains(".."))
                    throw new InvalidDataException($"shard name '{f}' must be a plain file name");
            return files;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{indexPath}: not a sharded checkpoint index ({e.Message})", e);
        }
    }

    private static Checkpoint Load(string directory, List<string> names, Action<MappedFile, IDictionary<string, CheckpointTensor>> read)
    {
        var files = new List<MappedFile>();
        var tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in names)
            {
                var file = MappedFile.Open(Path.Combine(directory, name));
                files.Add(file);
                read(file, tensors);
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new Checkpoint(names.Count == 1 ? names[0] : $"{names.Count} shards ({names[0]}, ...)", files, tensors);
    }

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
