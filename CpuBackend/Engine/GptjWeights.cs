using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The weights of one transformer block (HF names transformer.h.N.*).</summary>
internal sealed record LayerWeights(
    float[] Ln1Weight, float[] Ln1Bias,
    Matrix Query, Matrix Key, Matrix Value, Matrix Out,
    Matrix FcIn, float[] FcInBias, Matrix FcOut, float[] FcOutBias);

/// <summary>All weights of a GPT-J: matrices in the storage type, norms and biases as floats.</summary>
internal sealed class GptjWeights : IDisposable
{
    private readonly List<Matrix> matrices;

    private GptjWeights(Matrix tokenEmbedding, LayerWeights[] layers, float[] finalNormWeight, float[] finalNormBias,
        Matrix lmHead, float[] lmHeadBias, List<Matrix> matrices)
    {
        TokenEmbedding = tokenEmbedding;
        Layers = layers;
        FinalNormWeight = finalNormWeight;
        FinalNormBias = finalNormBias;
        LmHead = lmHead;
        LmHeadBias = lmHeadBias;
        this.matrices = matrices;
    }

    public Matrix TokenEmbedding { get; }

    public LayerWeights[] Layers { get; }

    public float[] FinalNormWeight { get; }

    public float[] FinalNormBias { get; }

    public Matrix LmHead { get; }

    public float[] LmHeadBias { get; }

    /// <summary>Bytes of matrices read by one decode step (all but the embedding, of which one row is read).</summary>
    public long BytesPerStep => matrices.Where(m => m != TokenEmbedding).Sum(m => m.ByteCount);

    /// <summary>Bytes of every matrix, the embedding included (norms and biases are negligible beside them).</summary>
    public long Bytes => matrices.Sum(m => m.ByteCount);

    /// <summary>Multiply-adds of those matrices for each sequence in a decode step (one per weight).</summary>
    public long MultiplyAddsPerToken => matrices.Where(m => m != TokenEmbedding).Sum(m => (long)m.Rows * m.Cols);

    public static GptjWeights Load(Checkpoint checkpoint, GptjConfig c, WeightType? storage, ILogger logger)
    {
        var tensors = checkpoint.Tensors;
        var total = tensors.Where(t => t.Key.StartsWith("transformer.", StringComparison.Ordinal) || t.Key.StartsWith("lm_head.", StringComparison.Ordinal))
            .Sum(t => t.Value.ByteCount);
        var clock = Stopwatch.StartNew();
        long done = 0;
        var lastPercent = -1;
        var matrices = new List<Matrix>();

        CheckpointTensor Tensor(string name, params long[] shape)
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new CheckpointFormatException(checkpoint.Description, name, "is missing");
            if (!t.Shape.SequenceEqual(shape))
                throw new CheckpointFormatException(t.File, name, $"has shape {t.ShapeText}, config.json implies [{string.Join(", ", shape)}]");
            _ = t.WeightType; // refuses dtypes the engine cannot read, naming the tensor
            FiniteWeights.ThrowIfNotFinite(t);
            return t;
        }

        void Advance(long bytes)
        {
            done += bytes;
            var percent = (int)(100 * done / Math.Max(1, total));
            if (percent / 5 == lastPercent / 5) return;
            lastPercent = percent;
            logger.LogInformation("Loading GPT-J weights: {Percent}% ({LoadedMegabytes} MB, {MegabytesPerSecond:F0} MB/s)",
                percent, done >> 20, (done >> 20) / Math.Max(1e-3, clock.Elapsed.TotalSeconds));
        }

        Matrix Mat(string name, int rows, int cols)
        {
            var t = Tensor(name, rows, cols);
            var m = Matrix.Load(t, rows, cols, storage);
            t.ReleasePages();
            matrices.Add(m);
            Advance(t.ByteCount);
            return m;
        }

        unsafe float[] Vec(string name, int length)
        {
            var t = Tensor(name, length);
            var values = new float[length];
            Matrix.ToFloat(t.WeightType, (byte*)t.Data, null, values);
            Advance(t.ByteCount);
            return values;
        }

        try
        {
            int e = c.EmbeddingSize, inner = c.InnerSize;
            var embedding = Mat("transformer.wte.weight", c.VocabSize, e);
            // n_layer comes from config.json and sizes an array: the checkpoint must hold that many layers first, and no
            // more (a config with fewer layers than the checkpoint would serve a truncated model without a word).
            Tensor($"transformer.h.{c.LayerCount - 1}.ln_1.weight", e);
            var unused = tensors.Keys.FirstOrDefault(name => name.StartsWith($"transformer.h.{c.LayerCount}.", StringComparison.Ordinal));
            if (unused is not null)
                throw new CheckpointFormatException(checkpoint.Description, unused, $"belongs to a layer beyond the {c.LayerCount} that config.json's n_layer states");
            var layers = new LayerWeights[c.LayerCount];
            for (var l = 0; l < c.LayerCount; l++)
            {
                var p = $"transformer.h.{l}.";
                layers[l] = new LayerWeights(
                    Vec(p + "ln_1.weight", e), Vec(p + "ln_1.bias", e),
                    Mat(p + "attn.q_proj.weight", e, e), Mat(p + "attn.k_proj.weight", e, e),
                    Mat(p + "attn.v_proj.weight", e, e), Mat(p + "attn.out_proj.weight", e, e),
                    Mat(p + "mlp.fc_in.weight", inner, e), Vec(p + "mlp.fc_in.bias", inner),
                    Mat(p + "mlp.fc_out.weight", e, inner), Vec(p + "mlp.fc_out.bias", e));
            }
            var weights = new GptjWeights(embedding, layers,
                Vec("transformer.ln_f.weight", e), Vec("transformer.ln_f.bias", e),
                Mat("lm_head.weight", c.VocabSize, e), Vec("lm_head.bias", c.VocabSize), matrices);
            Advance(total - done);
            logger.LogInformation(
                "Loaded GPT-J from {Checkpoint} in {Seconds:F1}s: {Layers} layers x {Width}, weights {WeightMegabytes} MB as {Storage}, resident memory {ResidentMegabytes} MB",
                checkpoint.Description, clock.Elapsed.TotalSeconds, c.LayerCount, c.EmbeddingSize,
                matrices.Sum(m => m.ByteCount) >> 20, storage?.ToString() ?? "checkpoint dtype", Environment.WorkingSet >> 20);
            return weights;
        }
        catch
        {
            foreach (var m in matrices) m.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var m in matrices) m.Dispose();
    }
}
