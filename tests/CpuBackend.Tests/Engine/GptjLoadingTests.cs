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
        var path = WriteConfig("""{"vocab_size": 50, "n_embd": 32, "n_layer": 1, "n_head": 4, "n_positions": 16, "n_inner": null}""");
        var config = GptjConfig.Load(path);
        Assert.Equal(128, config.InnerSize);
        Assert.Equal(8, config.RotaryDim);
        Assert.Equal(8, config.HeadDim);
        Assert.Equal(1e-5f, config.LayerNormEpsilon);
    }

    [Fact]
    public void Config_missing_a_field_names_it()
    {
        var path = WriteConfig("""{"vocab_size": 50, "n_embd": 32, "n_layer": 1, "n_positions": 16}""");
        var error = Assert.Throws<InvalidDataException>(() => GptjConfig.Load(path));
        Assert.Contains("'n_head' is missing", error.Message);
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

        var error = Assert.Throws<InvalidDataException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("forbidden global 'os.system'", error.Message);
        Assert.False(File.Exists(Path.Combine(folder, "pwned")));
    }

    [Fact]
    public void Pickle_with_an_opcode_outside_state_dicts_is_refused_naming_it()
    {
        // INST (0x69) builds arbitrary objects by name; state dicts never use it.
        WriteTorchArchive([0x80, 2, 0x69, .. Encoding.ASCII.GetBytes("os\nsystem\n"), (byte)'.']);
        var error = Assert.Throws<InvalidDataException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("opcode 0x69", error.Message);
    }

    [Fact]
    public void Folder_without_weights_names_the_files_looked_for()
    {
        WriteConfig("""{"vocab_size": 50, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
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
        var error = Assert.Throws<InvalidDataException>(() => GptjModel.Load(folder, null, NullLogger.Instance));
        Assert.Contains("'transformer.h.1.mlp.fc_in.bias' is missing", error.Message);
    }

    private string WriteConfig(string json)
    {
        var path = Path.Combine(folder, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    private void WriteTorchArchive(byte[] pickle)
    {
        WriteConfig("""{"vocab_size": 50, "n_embd": 32, "n_layer": 1, "n_head": 4}""");
        using var zip = ZipFile.Open(Path.Combine(folder, "pytorch_model.bin"), ZipArchiveMode.Create);
        using var stream = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open();
        stream.Write(pickle);
    }
}
