using System.Text.Json;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The tensors of a Hugging Face model folder, memory-mapped from safetensors or PyTorch files, single or sharded.</summary>
/// <remarks>A malformed file, index or tensor is a <see cref="CheckpointFormatException"/> naming the file (and the tensor).</remarks>
internal sealed class Checkpoint : IDisposable
{
    private readonly IReadOnlyList<MappedFile> files;

    private Checkpoint(string description, IReadOnlyList<MappedFile> files, Dictionary<string, CheckpointTensor> tensors)
    {
        Description = description;
        this.files = files;
        Tensors = tensors;
    }

    /// <summary>Which files the tensors came from, for logs and errors.</summary>
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

    /// <summary>The tensors of files already open, read by <paramref name="read"/>; the checkpoint owns the files from here on.</summary>
    public static Checkpoint Read(string description, IReadOnlyList<MappedFile> files, Func<MappedFile, List<CheckpointTensor>> read)
    {
        try
        {
            var tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
            foreach (var file in files)
                foreach (var tensor in read(file))
                    if (!tensors.TryAdd(tensor.Name, tensor))
                        throw file.Error($"appears twice (also in {tensors[tensor.Name].File})", tensor.Name);
            return new Checkpoint(description, files, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static List<string> Shards(string indexPath)
    {
        List<string> files;
        try
        {
            using var index = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            files = index.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(e => e.Value.GetString() ?? throw new CheckpointFormatException(indexPath, e.Name, "is mapped to null, not a shard file name"))
                .Distinct().Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointFormatException(indexPath, null, $"not a sharded checkpoint index ({e.Message})", e);
        }
        if (files.Count == 0) throw new CheckpointFormatException(indexPath, null, "weight_map names no shard files");
        var folder = Path.GetDirectoryName(indexPath)!;
        foreach (var f in files)
        {
            if (f.Length == 0 || f.Contains('/') || f.Contains('\\') || f is "." or "..")
                throw new CheckpointFormatException(indexPath, null, $"shard name '{f}' must be a plain file name");
            if (!File.Exists(Path.Combine(folder, f)))
                throw new CheckpointFormatException(indexPath, null, $"names shard '{f}', which is not in {folder}");
        }
        return files;
    }

    private static Checkpoint Load(string directory, List<string> names, Func<MappedFile, List<CheckpointTensor>> read)
    {
        var files = new List<MappedFile>();
        try
        {
            foreach (var name in names) files.Add(MappedFile.Open(Path.Combine(directory, name)));
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        var description = names.Count == 1 ? Path.Combine(directory, names[0]) : $"{directory} ({names.Count} shards: {string.Join(", ", names)})";
        return Read(description, files, read);
    }

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
