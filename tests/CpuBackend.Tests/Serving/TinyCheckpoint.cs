using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Writes a small deterministic random GPT-J checkpoint (HF config.json + F32 model.safetensors) for serving tests.</summary>
internal static class TinyCheckpoint
{
    public const int VocabSize = 64;
    public const int ContextLength = 48;
    public const int EosTokenId = 1;

    /// <param name="contextLength">n_positions; a long one lets a test keep a row running for thousands of steps.</param>
    public static string Create(int contextLength = ContextLength)
    {
        var directory = Path.Combine(Path.GetTempPath(), "gptj-serving-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        const int embedding = 16, layers = 2, heads = 2, inner = 32;
        File.WriteAllText(Path.Combine(directory, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = "gptj",
            ["activation_function"] = "gelu_new",
            ["vocab_size"] = VocabSize,
            ["n_embd"] = embedding,
            ["n_layer"] = layers,
            ["n_head"] = heads,
            ["rotary_dim"] = 4,
            ["n_inner"] = inner,
            ["n_positions"] = contextLength,
            ["layer_norm_epsilon"] = 1e-5,
            ["bos_token_id"] = 0,
            ["eos_token_id"] = EosTokenId,
        }));

        var random = new Random(1234);
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        void Add(string name, int[] shape, float scale, float offset = 0f)
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = offset + scale * (float)(random.NextDouble() * 2 - 1);
            }
            tensors.Add((name, shape, data));
        }
        Add("transformer.wte.weight", [VocabSize, embedding], 1f);
        for (var l = 0; l < layers; l++)
        {
            var p = $"transformer.h.{l}.";
            Add(p + "ln_1.weight", [embedding], 0.1f, 1f);
            Add(p + "ln_1.bias", [embedding], 0.1f);
            foreach (var projection in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                Add(p + "attn." + projection + ".weight", [embedding, embedding], 0.3f);
            }
            Add(p + "mlp.fc_in.weight", [inner, embedding], 0.3f);
            Add(p + "mlp.fc_in.bias", [inner], 0.1f);
            Add(p + "mlp.fc_out.weight", [embedding, inner], 0.3f);
            Add(p + "mlp.fc_out.bias", [embedding], 0.1f);
        }
        Add("transformer.ln_f.weight", [embedding], 0.1f, 1f);
        Add("transformer.ln_f.bias", [embedding], 0.1f);
        Add("lm_head.weight", [VocabSize, embedding], 1f);
        Add("lm_head.bias", [VocabSize], 0.5f);
        WriteSafetensors(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
    }

    /// <summary>safetensors: 8-byte little-endian header length, JSON header with dtype/shape/data_offsets, then the data.</summary>
    private static void WriteSafetensors(string path, List<(string Name, int[] Shape, float[] Data)> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + data.Length * 4L } };
            offset += data.Length * 4L;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        file.Write(length);
        file.Write(json);
        foreach (var (_, _, data) in tensors)
        {
            var bytes = new byte[data.Length * 4];
            for (var i = 0; i < data.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
            }
            file.Write(bytes);
        }
    }
}
