using System.IO.Compression;
using System.Text;
using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>config.json reading and the refusal of malformed or hostile checkpoints.</summary>
public sealed class GptjLoadingTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("gptj-engine-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Config_without_n_inner_or_rotary_dim_uses_hf_defaults()
    {
        var path = WriteConfig("""{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_head": 4, "n_positions": 16, "n_inner": null}""");
        var config = GptjConfig.Load(path);
        Assert.Equal(128, config.InnerSize);
        Assert.Equal(8, config.RotaryDim);
        Assert.Equal(8, config.HeadDim);
        Assert.Equal(1e-5f, config.LayerNormEpsilon);
    }

    [Fact]
    public void Config_missing_a_field_names_it()
    {
        var path = WriteConfig("""{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_positions": 16}""");
        var error = Assert.Throws<CheckpointFormatException>(() => GptjConfig.Load(path));
        Assert.Contains("'n_head' is missing", error.Message);
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("0")]
    [InlineData("-1e-5")]
    public void Config_with_an_epsilon_that_is_not_a_positive_float_is_refused(string epsilon)
    {
        var path = WriteConfig($$"""{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_head": 4, "layer_norm_epsilon": {{epsilon}}}""");
        var error = Assert.Throws<CheckpointFormatException>(() => GptjConfig.Load(path));
        Assert.Contains("layer_norm_epsilon must be a positive number", error.Message);
    }

    [Theory]
    [InlineData("\"n_embd\": 32, \"layer_norm_epsilon\": \"NaN\"", "field 'layer_norm_epsilon' must be a number, found \"NaN\"")]
    [InlineData("\"n_embd\": 32, \"n_positions\": 60000000", "n_positions 60000000 is more than the 131072 positions this engine serves")]
    [InlineData("\"n_embd\": 32, \"eos_token_id\": 50", "eos_token_id 50 must be token ids of the vocabulary [0, 50)")]
    [InlineData("\"n_embd\": 32, \"bos_token_id\": -5", "bos_token_id -5 and")]
    [InlineData("\"n_embd\": 1000000000, \"n_inner\": null", "4 x n_embd (the MLP width when n_inner is not given) must fit 32 bits")]
    public void Config_asking_for_what_no_checkpoint_can_mean_is_refused_naming_the_field(string fields, string expected)
    {
        // Each was accepted: a string epsilon became 1e-5, 60M positions allocated 15 GB of rotary tables, an end token
        // outside the vocabulary never ended a generation, and 4 x n_embd overflowed into a message about n_inner.
        var defaults = fields.Contains("_token_id") ? "" : "\"bos_token_id\": 1, \"eos_token_id\": 1, ";
        var path = WriteConfig("{\"vocab_size\": 50, \"n_layer\": 1, \"n_head\": 4, " + defaults + fields + "}");

        var error = Assert.Throws<CheckpointFormatException>(() => GptjConfig.Load(path));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Config_stating_fewer_layers_than_the_checkpoint_holds_is_refused_naming_a_tensor_of_the_next_layer()
    {
        // The tiny checkpoint has 2 layers; with n_layer 1 the second was ignored and a truncated model served.
        var checkpoint = GptjAspire.CpuBackend.Tests.Serving.TinyCheckpoint.Create();
        try
        {
            var config = Path.Combine(checkpoint, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layer\":2", "\"n_layer\":1"));

            var error = Assert.Throws<CheckpointFormatException>(() => GptjModel.Load(checkpoint, null, NullLogger.Instance));

            Assert.StartsWith("transformer.h.1.", error.Tensor);
            Assert.Contains("beyond the 1 that config.json's n_layer states", error.Message);
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }
    }

    [Fact]
    public void Pickle_calling_os_system_is_refused_before_anything_runs()
    {
        // GLOBAL os system; SHORT_BINUNICODE "touch pwned"; TUPLE1; REDUCE; STOP — what a hostile .bin holds.
        var pickle = new List<byte> { 0x80, 2 };
        pickle.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        pickle.AddRange([0x8c, 11]);
        pickle.AddRange(Encoding.ASCII.GetBytes("touch pwned"));
        pickle.AddRange([0x85, (byte)'R', (byte)'.']);
        WriteTorchArchive([.. pickle]);

        var error = Assert.Throws<CheckpointFormatException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("forbidden global 'os.system'", error.Message);
        Assert.Equal(Path.Combine(folder, "pytorch_model.bin"), error.File);
        Assert.False(File.Exists(Path.Combine(folder, "pwned")));
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("builtins", "exec")]
    [InlineData("posix", "system")]
    [InlineData("torch", "load")]
    [InlineData("collections", "defaultdict")]
    public void Pickle_naming_a_callable_outside_state_dicts_by_STACK_GLOBAL_is_refused(string module, string name)
    {
        // Protocol 4 names globals from two strings on the stack: SHORT_BINUNICODE module, name; STACK_GLOBAL;
        // then the call: SHORT_BINUNICODE "1+1"; TUPLE1; REDUCE; STOP.
        var pickle = new List<byte> { 0x80, 4, 0x8c, (byte)module.Length };
        pickle.AddRange(Encoding.ASCII.GetBytes(module));
        pickle.AddRange([0x8c, (byte)name.Length, .. Encoding.ASCII.GetBytes(name), 0x93, 0x8c, 3, .. "1+1"u8, 0x85, (byte)'R', (byte)'.']);
        WriteTorchArchive([.. pickle]);

        var error = Assert.Throws<CheckpointFormatException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains($"forbidden global '{module}.{name}'", error.Message);
    }

    [Fact]
    public void Pickle_with_an_opcode_outside_state_dicts_is_refused_naming_it()
    {
        // INST (0x69) builds arbitrary objects by name; state dicts never use it.
        WriteTorchArchive([0x80, 2, 0x69, .. Encoding.ASCII.GetBytes("os\nsystem\n"), (byte)'.']);
        var error = Assert.Throws<CheckpointFormatException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("opcode 0x69", error.Message);
    }

    [Fact]
    public void Folder_without_weights_names_the_files_looked_for()
    {
        WriteConfig("""{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
        var error = Assert.Throws<FileNotFoundException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains("pytorch_model.bin", error.Message);
    }

    [Fact]
    public void Checkpoint_missing_a_tensor_names_it()
    {
        var source = ReferenceFixture.Load("partial-rotary-f32").Directory("safetensors");
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(folder, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(source, "model.safetensors"));
        // Rename one tensor in the header (same length, so offsets stay valid).
        var text = Encoding.Latin1.GetString(bytes).Replace("transformer.h.1.mlp.fc_in.bias", "transformer.h.1.mlp.fc_in.xxxx");
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), Encoding.Latin1.GetBytes(text));
        var error = Assert.Throws<CheckpointFormatException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Equal("transformer.h.1.mlp.fc_in.bias", error.Tensor);
        Assert.Equal(Path.Combine(folder, "model.safetensors"), error.File);
        Assert.Contains("tensor 'transformer.h.1.mlp.fc_in.bias': is missing", error.Message);
    }

    [Fact]
    public void Step_counts_cover_every_weight_matrix_but_the_embedding()
    {
        using var model = GptjModel.Load(ReferenceFixture.Load("partial-rotary-f32").Directory("safetensors"), null, NullLogger.Instance);
        var c = model.Config;
        long e = c.EmbeddingSize, perLayer = 4 * e * e + 2 * e * c.InnerSize;
        Assert.Equal(c.LayerCount * perLayer + c.VocabSize * e, model.WeightMultiplyAddsPerToken);
        // f32 weights, read as stored: lm_head's 1000 rows fill panels of 32, so 1024 of them are read.
        var storedVocab = (c.VocabSize + Matrix.PanelWidth - 1) / Matrix.PanelWidth * Matrix.PanelWidth;
        Assert.Equal(4 * (c.LayerCount * perLayer + storedVocab * e), model.WeightBytesPerStep);
    }

    [Fact]
    public void Torch_archive_in_zip64_form_loads_the_same_weights()
    {
        // The VietAI checkpoint is a 12 GB pytorch_model.bin, so its offsets and sizes live in ZIP64 records.
        // The same records, forced on a small archive, must lead to the same tensors.
        var reference = ReferenceFixture.Load("partial-rotary-f32");
        var source = reference.Directory("pytorch");
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(folder, "config.json"));
        using (var original = ZipFile.OpenRead(Path.Combine(source, "pytorch_model.bin")))
        {
            var entries = original.Entries.Select(e =>
            {
                using var stream = e.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                return (e.FullName, copy.ToArray(), e.Crc32);
            }).ToList();
            File.WriteAllBytes(Path.Combine(folder, "pytorch_model.bin"), Zip64Archive(entries));
            // .NET's own zip reader agrees that the rewritten archive holds the same entries.
            using var rewritten = ZipFile.OpenRead(Path.Combine(folder, "pytorch_model.bin"));
            Assert.Equal(entries.Select(e => (e.FullName, (long)e.Item2.Length)), rewritten.Entries.Select(e => (e.FullName, e.Length)));
        }

        using var expected = GptjModel.Load(source, null, NullLogger.Instance);
        using var actual = GptjModel.Load(folder, null, NullLogger.Instance);
        var prompt = reference.Prompts[0].Ids;
        var vocab = expected.Config.VocabSize;
        float[] a = new float[prompt.Length * vocab], b = new float[prompt.Length * vocab];
        expected.Forward(prompt, expected.CreateCache(), a);
        actual.Forward(prompt, actual.CreateCache(), b);
        Assert.Equal(a, b);
    }

    /// <summary>A stored (uncompressed) zip in which every size and offset is in ZIP64 form (APPNOTE 4.3.9, 4.3.14-15, 4.5.3).</summary>
    private static byte[] Zip64Archive(IReadOnlyList<(string Name, byte[] Data, uint Crc)> entries)
    {
        using var file = new MemoryStream();
        using var w = new BinaryWriter(file);
        var offsets = new List<long>();
        foreach (var (name, data, crc) in entries)
        {
            offsets.Add(file.Position);
            var nameBytes = Encoding.UTF8.GetBytes(name);
            // Pad the extra field so the data starts on a 64-byte boundary, as torch.save does.
            var padding = (int)((64 - (file.Position + 30 + nameBytes.Length + 20 + 4) % 64) % 64);
            w.Write(0x04034b50u); w.Write((ushort)45); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(crc); w.Write(uint.MaxValue); w.Write(uint.MaxValue);
            w.Write((ushort)nameBytes.Length); w.Write((ushort)(20 + 4 + padding)); w.Write(nameBytes);
            w.Write((ushort)0x0001); w.Write((ushort)16); w.Write((long)data.Length); w.Write((long)data.Length);
            w.Write((ushort)0x4246); w.Write((ushort)padding); w.Write(new byte[padding]);
            w.Write(data);
        }
        var directory = file.Position;
        for (var i = 0; i < entries.Count; i++)
        {
            var (name, data, crc) = entries[i];
            var nameBytes = Encoding.UTF8.GetBytes(name);
            w.Write(0x02014b50u); w.Write((ushort)45); w.Write((ushort)45); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(crc); w.Write(uint.MaxValue); w.Write(uint.MaxValue);
            w.Write((ushort)nameBytes.Length); w.Write((ushort)28); w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(uint.MaxValue); w.Write(nameBytes);
            w.Write((ushort)0x0001); w.Write((ushort)24); w.Write((long)data.Length); w.Write((long)data.Length); w.Write(offsets[i]);
        }
        var directorySize = file.Position - directory;
        var zip64End = file.Position;
        w.Write(0x06064b50u); w.Write(44L); w.Write((ushort)45); w.Write((ushort)45); w.Write(0u); w.Write(0u);
        w.Write((long)entries.Count); w.Write((long)entries.Count); w.Write(directorySize); w.Write(directory);
        w.Write(0x07064b50u); w.Write(0u); w.Write(zip64End); w.Write(1u);
        w.Write(0x06054b50u); w.Write((ushort)0); w.Write((ushort)0); w.Write(ushort.MaxValue); w.Write(ushort.MaxValue);
        w.Write(uint.MaxValue); w.Write(uint.MaxValue); w.Write((ushort)0);
        w.Flush();
        return file.ToArray();
    }

    private string WriteConfig(string json)
    {
        var path = Path.Combine(folder, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    private void WriteTorchArchive(byte[] pickle)
    {
        WriteConfig("""{"vocab_size": 50, "bos_token_id": 1, "eos_token_id": 1, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
        File.WriteAllBytes(Path.Combine(folder, "pytorch_model.bin"), TorchArchive.Zip([("archive/data.pkl", pickle)]));
    }
}
