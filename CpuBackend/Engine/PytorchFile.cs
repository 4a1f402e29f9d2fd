namespace GptjAspire.CpuBackend.Engine;

/// <summary>Reads the tensor table of a mapped <c>pytorch_model.bin</c> (torch.save zip archive) without copying tensor data.</summary>
/// <remarks>What the pickle says about each tensor is checked against the archive before it becomes a pointer: the storage
/// entry exists and holds the declared number of elements, the view's shape and offset stay inside that storage, and the
/// view is contiguous. Comparisons are arranged (divisions, differences) so that no declared number can overflow them.</remarks>
internal static class PytorchFile
{
    public static List<CheckpointTensor> ReadTensors(MappedFile file)
    {
        var entries = PytorchZipArchive.ReadEntries(file);
        // Records sit under one top folder named by torch.save (e.g. "archive/" or the file stem).
        var pickleName = entries.Keys.FirstOrDefault(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.Count(c => c == '/') == 1)
            ?? throw file.Error("no data.pkl entry; not a torch.save archive");
        var prefix = pickleName[..^"data.pkl".Length];
        var (pickleOffset, pickleSize) = entries[pickleName];
        return StateDictUnpickler.Load(file, pickleName, file.Bytes(pickleOffset, pickleSize))
            .Select(view => Locate(file, entries, prefix, view))
            .ToList();
    }

    private static CheckpointTensor Locate(MappedFile file, Dictionary<string, (long Offset, long Size)> entries, string prefix, StateDictUnpickler.TensorView view)
    {
        var name = view.Name;
        var entryName = prefix + "data/" + view.StorageKey;
        if (!entries.TryGetValue(entryName, out var entry))
            throw file.Error($"its storage '{view.StorageKey}' has no archive entry {entryName}", name);
        var elementSize = CheckpointTensor.ElementSizeIn(file, name, view.DType);
        if (view.StorageElements < 0 || view.StorageElements > entry.Size / elementSize)
            throw file.Error($"its storage '{view.StorageKey}' declares {view.StorageElements} {view.DType} elements but entry {entryName} holds {entry.Size} bytes", name);
        var elements = CheckpointTensor.CountElements(file, name, view.Shape, view.StorageElements,
            $"than its storage '{view.StorageKey}' of {view.StorageElements}");
        if (view.Offset < 0 || view.Offset > view.StorageElements - elements)
            throw file.Error($"its {elements} elements at offset {view.Offset} overrun its storage '{view.StorageKey}' of {view.StorageElements}", name);
        if (view.Stride.Length != view.Shape.Length)
            throw file.Error($"has {view.Stride.Length} strides for {view.Shape.Length} dimensions", name);
        if (elements > 0)
        {
            // Row-major contiguity; the running product stays at most `elements`, so it cannot overflow.
            long expected = 1;
            for (var d = view.Shape.Length - 1; d >= 0; d--)
            {
                if (view.Shape[d] != 1 && view.Stride[d] != expected)
                    throw file.Error($"shape [{string.Join(", ", view.Shape)}] with stride [{string.Join(", ", view.Stride)}] is not contiguous", name);
                expected *= view.Shape[d];
            }
        }
        return CheckpointTensor.InFile(file, name, view.DType, view.Shape, entry.Offset + view.Offset * elementSize);
    }
}
