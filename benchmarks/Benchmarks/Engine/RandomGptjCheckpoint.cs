using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.Benchmarks.Engine;

/// <summary>A GPT-J shape to benchmark (HF config fields).</summary>
internal sealed record GptjShape(string Name, int Layers, int Width, int Heads, int RotaryDim, int Inner, int Vocab, int Positions)
{
    public static readonly GptjShape Small = new("gptj-4x512", 4, 512, 8, 64, 2048, 50400, 2048);
    public static readonly GptjShape MidSize = new("gptj-8x1024", 8, 1024, 16, 64, 4096, 50400, 2048);
    public static readonly GptjShape Gptj6B = new("gptj-6b", 28, 4096, 16, 64, 16384, 50400, 2048);

    /// <summary>Multiply-adds of the weight matrices per token (q, k, v, out, fc_in, fc_out per layer; lm_head).</summary>
    public long WeightMultiplyAdds => Layers * (4L * Width * Width + 2L * Width * Inner) + (long)Width * Vocab;
}

/// <summary>Writes a random GPT-J checkpoint (config.json + model.safetensors) of a given shape to disk, for speed runs only.</summary>
internal static class RandomGptjCheckpoint
{
    public static void Write(string directory, GptjShape shape, WeightType dtype)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["model_type"] = "gptj", ["activation_function"] = "gelu_new", ["vocab_size"] = shape.Vocab,
            ["n_embd"] = shape.Width, ["n_layer"] = shape.Layers, ["n_head"] = shape.Heads, ["rotary_dim"] = shape.RotaryDim,
            ["n_inner"] = shape.Inner, ["n_positions"] = shape.Positions, ["layer_norm_epsilon"] = 1e-5,
            ["bos_token_id"] = 50256, ["eos_token_id"] = 50256,
        }));

        var tensors = new List<(string Name, long[] Shape)> { ("transformer.wte.weight", [shape.Vocab, shape.Width]) };
        for (var l = 0; l < shape.Layers; l++)
        {
            var p = $"transformer.h.{l}.";
            tensors.Add((p + "ln_1.weight", [shape.Width]));
            tensors.Add((p + "ln_1.bias", [shape.Width]));
            foreach (var m in new[] { "q_proj", "k_proj", "v_proj", "out_proj" }) tensors.Add((p + $"attn.{m}.weight", [shape.Width, shape.Width]));
            tensors.Add((p + "mlp.fc_in.weight", [shape.Inner, shape.Width]));
            tensors.Add((p + "mlp.fc_in.bias", [shape.Inner]));
            tensors.Add((p + "mlp.fc_out.weight", [shape.Width, shape.Inner]));
            tensors.Add((p + "mlp.fc_out.bias", [shape.Width]));
        }
        tensors.Add(("transformer.ln_f.weight", [shape.Width]));
        tensors.Add(("transformer.ln_f.bias", [shape.Width]));
        tensors.Add(("lm_head.weight", [shape.Vocab, shape.Width]));
        tensors.Add(("lm_head.bias", [shape.Vocab]));

        var elementSize = dtype == WeightType.F32 ? 4 : 2;
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, dims) in tensors)
        {
            var bytes = dims.Aggregate(1L, (a, b) => a * b) * elementSize;
            header[name] = new { dtype = dtype.ToString(), shape = dims, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;

        // A pool of uniform values in [-0.05, 0.05) cycled through at a different start for each tensor:
        // the bytes on disk are random-looking and finite, and writing is disk-bound, not generator-bound.
        var pool = new float[1 << 22];
        var random = new Random(1234);
        for (var i = 0; i < pool.Length; i++) pool[i] = (random.NextSingle() - 0.5f) * 0.1f;
        var poolBytes = dtype switch
        {
            WeightType.F32 => MemoryMarshal.AsBytes(pool.AsSpan()).ToArray(),
            WeightType.F16 => HalfBytes(pool),
            _ => throw new ArgumentException($"random checkpoints are written as F32 or F16, not {dtype}"),
        };

        using var file = new FileStream(Path.Combine(directory, "model.safetensors"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> length = stackalloc byte[8];
        BitConverter.TryWriteBytes(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        for (var i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
        var start = 0;
        foreach (var (_, dims) in tensors)
        {
            var remaining = dims.Aggregate(1L, (a, b) => a * b) * elementSize;
            start = (start + 7919 * elementSize) % poolBytes.Length;
            var at = start;
            while (remaining > 0)
            {
                var n = (int)Math.Min(remaining, poolBytes.Length - at);
                file.Write(poolBytes, at, n);
                remaining -= n;
                at = 0;
            }
        }
    }

    private static byte[] HalfBytes(float[] pool)
    {
        var halves = new Half[pool.Length];
        TensorPrimitives.ConvertToHalf(pool, halves);
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }
}
