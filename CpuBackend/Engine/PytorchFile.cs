namespace GptjAspire.CpuBackend.Engine;

/// <summary>Reads the tensor table of a mapped <c>pytorch_model.bin</c> (torch.save zip archive) without copying tensor data.</summary>
internal static unsafe class PytorchFile
{
    public static void ReadTensors(MappedFile file, IDictionary<string, CheckpointTensor> into)
    {
        var entries = PytorchZipArchive.ReadEntries(file);
        // Records sit under one top folder named by torch.save (e.g. "archive/" or the file stem).
        var pickleName = entries.Keys.FirstOrDefault(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.Count(c => c == '/') == 1)
            ?? throw new InvalidDataException($"{file.Path}: no data.pkl entry; not a torch.save archive");
        var prefix = pickleName[..^"data.pkl".Length];
        var (pickleOffset, pickleSize) = entries[pickleName];

        StateDictUnpickler.Storage Resolve(string key, string dtype, long count)
        {
            if (!entries.TryGetValue(prefix + "data/" + key, out var entry))
                throw new InvalidDataException($"{file.Path}: storage '{key}' has no entry {prefix}data/{key}");
            if (entry.Size < count * CheckpointTensor.ElementSize(dtype))
                throw new InvalidDataException($"{file.Path}: storage '{key}' holds {entry.Size} bytes, fewer than {count} {dtype} elements");
            return new StateDictUnpickler.Storage(dtype, (nint)(file.Pointer + entry.Offset), count);
        }

        foreach (var tensor in StateDictUnpickler.Load(file.Bytes(pickleOffset, pickleSize), file.Path, Resolve))
            into[tensor.Name] = tensor;
    }
}
