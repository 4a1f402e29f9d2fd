using System.Buffers;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A GPT-J causal language model (HF GPTJForCausalLM semantics) evaluated on the CPU.</summary>
/// <remarks>The forward pass reads top to bottom like llama2.c: embed; per layer ln_1, q/k/v, rotary,
/// causal attention, out projection, and in parallel the MLP on the same normalised input, both added to
/// the residual; ln_f; lm_head. Calls on distinct caches may run concurrently; one cache is used by one call at a time.</remarks>
public sealed unsafe class GptjModel : IDisposable
{
    private readonly GptjWeights weights;
    private readonly Rotary rotary;

    private GptjModel(GptjConfig config, GptjWeights weights)
    {
        Config = config;
        this.weights = weights;
        rotary = new Rotary(config);
    }

    public GptjConfig Config { get; }

    /// <summary>Bytes of weights one decode step reads (every matrix but the embedding).</summary>
    public long WeightBytesPerStep => weights.BytesPerStep;

    /// <summary>Bytes of every weight matrix held in memory, as converted at load.</summary>
    public long WeightBytes => weights.Bytes;

    /// <summary>Multiply-adds of the weight matrices per decoded token (attention over the cache comes on top).</summary>
    public long WeightMultiplyAddsPerToken => weights.MultiplyAddsPerToken;

    /// <summary>Loads config.json and the weights of an HF folder, keeping them in <paramref name="storage"/> (null: the checkpoint's dtype).</summary>
    public static GptjModel Load(string modelDirectory, WeightType? storage, ILogger logger)
    {
        var config = GptjConfig.Load(Path.Combine(modelDirectory, "config.json"));
        // Every matrix is converted into the kernels' layout, so the checkpoint's mapped pages are released once loaded.
        using var checkpoint = Checkpoint.Open(modelDirectory);
        return new GptjModel(config, GptjWeights.Load(checkpoint, config, storage, logger));
    }

    /// <summary>This model's freed KV-cache blocks, kept for its next caches.</summary>
    internal KvMemoryPool KvMemoryPool { get; } = new();

    /// <summary>An empty f32 cache for one sequence of this model that grows as tokens are appended.</summary>
    public KvCache CreateCache() => new(this, KvMemoryPool, Config, Math.Min(Config.ContextLength, 64), KvCacheType.F32);

    /// <summary>An empty cache preallocated and prefaulted for <paramref name="capacity"/> positions, so it never grows and its memory is resident before the first step.</summary>
    public KvCache CreateCache(int capacity, KvCacheType type)
    {
        if (capacity < 1 || capacity > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"A cache holds 1 to {Config.ContextLength} positions.");
        var cache = new KvCache(this, KvMemoryPool, Config, capacity, type);
        cache.Prefault();
        return cache;
    }

    /// <summary>Appends the prompt to the cache in one pass and writes the logits of its last position (VocabSize floats).</summary>
    public void Prefill(ReadOnlySpan<int> tokens, KvCache cache, Span<float> lastLogits)
    {
        if (lastLogits.Length < Config.VocabSize) throw new ArgumentException($"lastLogits must hold {Config.VocabSize} floats", nameof(lastLogits));
        Append(tokens, cache, tokens.Length - 1, lastLogits);
    }

    /// <summary>Like <see cref="Prefill"/> but writes the logits of every position (tokens.Length * VocabSize floats).</summary>
    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> allLogits)
    {
        if (allLogits.Length < tokens.Length * Config.VocabSize)
            throw new ArgumentException($"allLogits must hold {tokens.Length} x {Config.VocabSize} floats", nameof(allLogits));
        Append(tokens, cache, 0, allLogits);
    }

    /// <summary>One new token per sequence, each cache at its own length; weights are read once for the whole batch.</summary>
    public void Decode(ReadOnlySpan<int> tokens, IReadOnlyList<KvCache> caches, Span<float> logits)
    {
        if (tokens.Length != caches.Count) throw new ArgumentException($"{tokens.Length} tokens for {caches.Count} caches", nameof(caches));
        if (logits.Length < tokens.Length * Config.VocabSize)
            throw new ArgumentException($"logits must hold {tokens.Length} x {Config.VocabSize} floats", nameof(logits));
        var positions = new int[tokens.Length];
        var rows = new KvCache[tokens.Length];
        for (var r = 0; r < rows.Length; r++)
        {
            rows[r] = Check(caches[r], 1);
            for (var s = 0; s < r; s++)
                if (ReferenceEquals(rows[s], rows[r])) throw new ArgumentException($"cache {r} appears twice in one decode step", nameof(caches));
            positions[r] = rows[r].Length;
        }
        CheckTokens(tokens);
        foreach (var cache in rows) cache.Reserve(cache.Length + 1);
        Run(tokens, rows, positions, 0, logits);
        foreach (var cache in rows) cache.Length++;
    }

    private void Append(ReadOnlySpan<int> tokens, KvCache cache, int firstLogitRow, Span<float> logits)
    {
        if (tokens.IsEmpty) throw new ArgumentException("at least one token is needed", nameof(tokens));
        Check(cache, tokens.Length);
        CheckTokens(tokens);
        var rows = new KvCache[tokens.Length];
        var positions = new int[tokens.Length];
        for (var t = 0; t < tokens.Length; t++)
        {
            rows[t] = cache;
            positions[t] = cache.Length + t;
        }
        cache.Reserve(cache.Length + tokens.Length);
        Run(tokens, rows, positions, firstLogitRow, logits);
        cache.Length += tokens.Length;
    }

    /// <summary>The forward pass for rows of (token, cache, position); logits for rows from <paramref name="firstLogitRow"/> on.</summary>
    private void Run(ReadOnlySpan<int> tokens, KvCache[] caches, int[] positions, int firstLogitRow, Span<float> logits)
    {
        int rows = tokens.Length, e = Config.EmbeddingSize, inner = Config.InnerSize;
        // Rented, not allocated: each step would otherwise put its activations on the large-object heap (480 KB for ten
        // sequences of the mid-size model, 2 MB for GPT-J 6B). A rented array may be longer and hold old values; every
        // one below is written before it is read, and only its first rows are used.
        var pool = ArrayPool<float>.Shared;
        float[] x = pool.Rent(rows * e);        // residual stream
        float[] h = pool.Rent(rows * e);        // ln_1(x), the input of both attention and MLP
        float[] q = pool.Rent(rows * e), k = pool.Rent(rows * e), v = pool.Rent(rows * e);
        float[] attention = pool.Rent(rows * e);
        float[] m = pool.Rent(rows * inner);
        try
        {
            // Row-wise work (embedding, norms, rotary and the cache writes with GELU, the residual) is spread over the cores
            // too (one row stays on this thread). On one thread it did not shrink with cores: 200-token prefill of the
            // mid-size model on 2 cores went 232-250 → 207-208 ms (f32) and 217 → 195-198 ms (f16) in same-minute pairs, and
            // on 16 cores (with the f16 fix beside it) from 1.44x to 1.58x PyTorch; ten-row decode steps the same or 1-2% faster.
            var tokenIds = tokens.ToArray();
            KernelThreads.For(rows, r => weights.TokenEmbedding.RowToFloat(tokenIds[r], x.AsSpan(r * e, e)));

            // The inputs of the products (ln_1's output, the attention output, GELU's output, ln_f's output) are written
            // times what their products take them times (Kernels.ActivationScale), in the loops that write them a row at
            // a time anyway, instead of in a pass of the product's own on one thread.
            for (var l = 0; l < Config.LayerCount; l++)
            {
                var w = weights.Layers[l];
                float hScale = Kernels.ActivationScale([w.Query, w.Key, w.Value, w.FcIn]), attentionScale = Kernels.ActivationScale(w.Out),
                    mScale = Kernels.ActivationScale(w.FcOut);
                KernelThreads.For(rows, r =>
                {
                    Kernels.LayerNorm(x.AsSpan(r * e, e), w.Ln1Weight, w.Ln1Bias, Config.LayerNormEpsilon, h.AsSpan(r * e, e));
                    Scale(h.AsSpan(r * e, e), hScale);
                });

                // Attention's q, k, v and the MLP's fc_in all read ln_1's output: one parallel loop over the four products.
                Kernels.MatMul(h.AsSpan(0, rows * e), rows, [new(w.Query, null, q), new(w.Key, null, k), new(w.Value, null, v), new(w.FcIn, w.FcInBias, m)],
                    inputScaled: hScale != 1f);
                var layer = l;
                KernelThreads.For(rows, r =>
                {
                    rotary.Apply(q.AsSpan(r * e, e), positions[r]);
                    rotary.Apply(k.AsSpan(r * e, e), positions[r]);
                    caches[r].Keys[layer].Write(positions[r], k.AsSpan(r * e, e));
                    caches[r].Values[layer].Write(positions[r], v.AsSpan(r * e, e));
                    Kernels.GeluNew(m.AsSpan(r * inner, inner), mScale);
                });
                Attend(l, q, caches, positions, attention, attentionScale);
                // Attention's output projection and the MLP's fc_out both add to the residual.
                Kernels.AddMatMuls(x.AsSpan(0, rows * e), rows, attention.AsSpan(0, rows * e), w.Out, m.AsSpan(0, rows * inner), w.FcOut, w.FcOutBias,
                    inputsScaled: true);
            }

            var outputs = rows - firstLogitRow;
            var lmScale = Kernels.ActivationScale(weights.LmHead);
            for (var r = 0; r < outputs; r++)
            {
                Kernels.LayerNorm(x.AsSpan((firstLogitRow + r) * e, e), weights.FinalNormWeight, weights.FinalNormBias, Config.LayerNormEpsilon, h.AsSpan(r * e, e));
                Scale(h.AsSpan(r * e, e), lmScale);
            }
            Kernels.MatMul(h.AsSpan(0, outputs * e), outputs, weights.LmHead, weights.LmHeadBias, logits, inputScaled: true);
        }
        finally
        {
            foreach (var buffer in (float[][])[x, h, q, k, v, attention, m]) pool.Return(buffer);
            // The caches' rows hand out spans of native memory (KvMemory), which must not be collected while they are read.
            GC.KeepAlive(caches);
        }
    }

    /// <summary>row *= scale, skipped for 1 (a power of two: no digit of any value changes).</summary>
    private static void Scale(Span<float> row, float scale)
    {
        if (scale != 1f) TensorPrimitives.Multiply(row, scale, row);
    }

    /// <summary>Boundaries of <paramref name="wanted"/> runs (at least one, at most one per block) of the prompt's four-row
    /// blocks that attend about equally many keys (a row attends to its position + 1): run i is blocks [runs[i], runs[i + 1]).</summary>
    internal static int[] PrefillRuns(int[] positions, int wanted)
    {
        var blocks = (positions.Length + PrefillAttention.Rows - 1) / PrefillAttention.Rows;
        var count = Math.Clamp(wanted, 1, blocks);
        var total = positions.Sum(p => p + 1L);
        var runs = new int[count + 1];
        runs[count] = blocks;
        long done = 0;
        var run = 1;
        for (var b = 0; b < blocks && run < count; b++)
        {
            for (var r = b * PrefillAttention.Rows; r < Math.Min(positions.Length, (b + 1) * PrefillAttention.Rows); r++) done += positions[r] + 1L;
            while (run < count && done * count >= total * run) runs[run++] = b + 1;
        }
        while (run < count) runs[run++] = blocks;
        return runs;
    }

    /// <summary>Causal attention of each row's query over its cache up to its own position, scaled by 1/sqrt(head_dim), in fp32.</summary>
    /// <param name="outputScale">What the output is written times (<see cref="Kernels.ActivationScale(Matrix)"/> of the projection that reads it).</param>
    private void Attend(int layer, float[] q, KvCache[] caches, int[] positions, float[] output, float outputScale)
    {
        int e = Config.EmbeddingSize, d = Config.HeadDim, heads = Config.HeadCount;
        var scale = 1f / MathF.Sqrt(d);
        // Threads only pay off once there is real work: 2 * sum of attended positions * n_embd multiply-adds. The bar is
        // low because the cache reads, not the arithmetic, are the cost: one sequence of the mid-size model at 32-64
        // positions measured its decode step 3-5% faster with its heads split across the cores.
        var work = 2L * e * positions.Sum(p => (long)p + 1);
        void Run(int items, Action<int> item)
        {
            if (work < 1 << 12)
                for (var i = 0; i < items; i++) item(i);
            else
                KernelThreads.For(items, item);
        }
        if (caches.Length > 1 && caches[0].Type == KvCacheType.F32 && PrefillAttention.Supports(d) && caches.All(c => ReferenceEquals(c, caches[0])))
        {
            // A prompt's rows, four at a time, over the one cache they share. An item is one head over a run of blocks, so
            // the core that takes it keeps that head's keys and values in its L2 for the whole run: blocks of all heads
            // read every head's positions from the shared cache again, and on 16 cores ran at a quarter to a third of the
            // per-core rate of 2 cores. The runs are cut at equal work, about eight items per core.
            KvRows keys = caches[0].Keys[layer], values = caches[0].Values[layer];
            var runs = PrefillRuns(positions, (Environment.ProcessorCount * 8 + heads - 1) / heads);
            Run(heads * (runs.Length - 1), item =>
            {
                int run = item / heads, head = item % heads;
                for (var b = runs[run]; b < runs[run + 1]; b++)
                {
                    int first = b * PrefillAttention.Rows, count = Math.Min(PrefillAttention.Rows, caches.Length - first);
                    PrefillAttention.Attend(q, keys, values, positions, first, count, heads, head, head + 1, d, scale, output);
                    for (var r = first; r < first + count; r++) Scale(output.AsSpan(r * e + head * d, d), outputScale);
                }
            });
            return;
        }
        // Work items are a row's heads, split in groups only when there are fewer rows than cores.
        var groups = caches.Length < Environment.ProcessorCount ? Math.Min(heads, Environment.ProcessorCount) : 1;
        var items = caches.Length * groups;
        Action<int> attendItem = item =>
        {
            int r = item / groups, group = item % groups, length = positions[r] + 1;
            int h0 = group * heads / groups, h1 = (group + 1) * heads / groups;
            int from = h0 * d, width = (h1 - h0) * d;
            KvRows keys = caches[r].Keys[layer], values = caches[r].Values[layer];
            // The cache stores all heads of a position side by side, and between two steps every weight has streamed
            // through the caches, so it is cold. The scores read four positions at a time in memory order, all of this
            // item's heads of each; the weighted sum keeps 128 output features in registers over all positions
            // (HeadKernels). An f16 cache is read as stored and widened inside the kernels, against the query taken times
            // HeadKernels.HalfQueryScale once and the attention weights times HeadKernels.WideningInverse.
            var halves = keys.Type == KvCacheType.F16;
            var scores = ArrayPool<float>.Shared.Rent((h1 - h0) * length);
            var scaled = halves ? ArrayPool<float>.Shared.Rent(width) : null;
            var rows = ArrayPool<nint>.Shared.Rent(length);
            try
            {
                if (scaled != null) TensorPrimitives.Multiply(q.AsSpan(r * e + from, width), HeadKernels.HalfQueryScale, scaled.AsSpan(0, width));
                fixed (float* queries = q, scaledQuery = scaled, weights = scores, outputs = output)
                fixed (nint* at = rows)
                {
                    var rowsAt = (byte**)at;
                    for (var t = 0; t < length; t++) rowsAt[t] = keys.Address(t, from, width);
                    if (halves) HeadKernels.Scores<Kernels.F16>(rowsAt, length, width, d, scaledQuery, scale * Kernels.F16.SumScale, weights);
                    else HeadKernels.Scores<Kernels.F32>(rowsAt, length, width, d, queries + r * e + from, scale, weights);
                    for (var h = h0; h < h1; h++) Kernels.Softmax(scores.AsSpan((h - h0) * length, length));
                    if (halves) TensorPrimitives.Multiply(scores.AsSpan(0, (h1 - h0) * length), HeadKernels.WideningInverse, scores.AsSpan(0, (h1 - h0) * length));
                    for (var t = 0; t < length; t++) rowsAt[t] = values.Address(t, from, width);
                    if (halves) HeadKernels.WeightedSum<Kernels.F16>(rowsAt, length, width, d, weights, outputs + r * e + from);
                    else HeadKernels.WeightedSum<Kernels.F32>(rowsAt, length, width, d, weights, outputs + r * e + from);
                    Scale(output.AsSpan(r * e + from, width), outputScale);
                }
            }
            finally
            {
                if (scaled != null) ArrayPool<float>.Shared.Return(scaled);
                ArrayPool<float>.Shared.Return(scores);
                ArrayPool<nint>.Shared.Return(rows);
            }
        };
        Run(items, attendItem);
    }

    private KvCache Check(KvCache cache, int newTokens)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (!ReferenceEquals(cache.Owner, this)) throw new ArgumentException("the cache was created by another model", nameof(cache));
        if (cache.Length + newTokens > Config.ContextLength)
            throw new ArgumentException($"{cache.Length} cached + {newTokens} new tokens exceed the context length {Config.ContextLength}", nameof(cache));
        return cache;
    }

    private void CheckTokens(ReadOnlySpan<int> tokens)
    {
        for (var i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)Config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tokens[i]} at index {i} is outside the vocabulary [0, {Config.VocabSize})");
    }

    public void Dispose()
    {
        KvMemoryPool.Close();
        weights.Dispose();
    }
}
