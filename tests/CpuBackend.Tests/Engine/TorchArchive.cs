using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Builds torch.save-style archives byte by byte for tests: stored zip entries and state-dict pickles
/// written by hand (protocol 2, the opcodes torch.save emits), so a test can put any number where PyTorch would.</summary>
internal static class TorchArchive
{
    /// <summary>One tensor of a crafted state dict: a view of storage <paramref name="Key"/> (entry data/Key).</summary>
    public sealed record TensorSpec(string Name, string Key, long Numel, long Offset, long[] Size, long[] Stride,
        string StorageModule = "torch", string StorageType = "FloatStorage");

    /// <summary>A stored (uncompressed) zip of the entries, as .NET's ZipArchive writes it.</summary>
    public static byte[] Zip(IEnumerable<(string Name, byte[] Data)> entries)
    {
        using var file = new MemoryStream();
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in entries)
            {
                using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                stream.Write(data);
            }
        return file.ToArray();
    }

    /// <summary>The entries of a zip, in order.</summary>
    public static List<(string Name, byte[] Data)> Unzip(byte[] archive)
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        return zip.Entries.Select(e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return (e.FullName, copy.ToArray());
        }).ToList();
    }

    /// <summary>A pytorch_model.bin holding <paramref name="tensors"/> over storages of the given bytes.</summary>
    public static byte[] Checkpoint(IEnumerable<TensorSpec> tensors, IEnumerable<(string Key, byte[] Data)> storages) =>
        Zip([("archive/data.pkl", StateDict(tensors)), .. storages.Select(s => ($"archive/data/{s.Key}", s.Data))]);

    /// <summary>OrderedDict(name → _rebuild_tensor_v2((persistent storage id), offset, size, stride, False, OrderedDict())).</summary>
    public static byte[] StateDict(IEnumerable<TensorSpec> tensors)
    {
        var p = new List<byte> { 0x80, 2 };
        void Op(char op) => p.Add((byte)op);
        void Global(string module, string name) { Op('c'); p.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Text(string s)
        {
            var utf8 = Encoding.UTF8.GetBytes(s);
            Op('X');
            p.AddRange(BitConverter.GetBytes((uint)utf8.Length));
            p.AddRange(utf8);
        }
        void Int(long v)
        {
            if (v is >= 0 and <= 255) { Op('K'); p.Add((byte)v); }
            else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); p.AddRange(BitConverter.GetBytes((int)v)); }
            else { p.Add(0x8a); p.Add(8); p.AddRange(BitConverter.GetBytes(v)); } // LONG1, 8 bytes
        }
        void EmptyOrderedDict() { Global("collections", "OrderedDict"); Op(')'); Op('R'); }

        EmptyOrderedDict();
        Op('(');
        foreach (var t in tensors)
        {
            Text(t.Name);
            Global("torch._utils", "_rebuild_tensor_v2");
            Op('(');
            Op('('); Text("storage"); Global(t.StorageModule, t.StorageType); Text(t.Key); Text("cpu"); Int(t.Numel); Op('t'); Op('Q');
            Int(t.Offset);
            Op('('); foreach (var s in t.Size) Int(s); Op('t');
            Op('('); foreach (var s in t.Stride) Int(s); Op('t');
            p.Add(0x89); // NEWFALSE: requires_grad
            EmptyOrderedDict(); // backward hooks
            Op('t');
            Op('R');
        }
        Op('u');
        Op('.');
        return [.. p];
    }

    /// <summary>A safetensors file: 8-byte little-endian header size, the header text, the data.</summary>
    public static byte[] Safetensors(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }
}
