using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>A prompt being prefilled chunk by chunk into the cache its first sequence will keep.</summary>
internal sealed class PromptPrefill(KvCache cache, int vocabSize)
{
    public KvCache Cache { get; } = cache;

    /// <summary>Logits after the latest chunk; after the last one, those the first tokens are sampled from.</summary>
    public float[] LastLogits { get; } = new float[vocabSize];

    /// <summary>Prompt tokens already in <see cref="Cache"/>.</summary>
    public int Done => Cache.Length;

    /// <summary>Time spent in the chunks so far.</summary>
    public TimeSpan Elapsed { get; set; }
}
