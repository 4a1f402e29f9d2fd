namespace GptjAspire.CpuBackend.Engine;

/// <summary>The keys and values of one sequence for every layer; grows as tokens are appended, up to the context length.</summary>
public sealed class KvCache
{
    private readonly GptjConfig config;

    internal KvCache(object owner, GptjConfig config, int capacity)
    {
        Owner = owner;
        this.config = config;
        Capacity = capacity;
        Keys = new float[config.LayerCount][];
        Values = new float[config.LayerCount][];
        for (var l = 0; l < config.LayerCount; l++)
        {
            Keys[l] = new float[capacity * config.EmbeddingSize];
            Values[l] = new float[capacity * config.EmbeddingSize];
        }
    }

    /// <summary>Tokens held so far.</summary>
    public int Length { get; internal set; }

    internal object Owner { get; }

    internal int Capacity { get; private set; }

    /// <summary>Per layer, [position, n_embd] keys after rotary.</summary>
    internal float[][] Keys { get; }

    /// <summary>Per layer, [position, n_embd] values.</summary>
    internal float[][] Values { get; }

    /// <summary>An independent copy of this prefix, so several samples continue one prefill.</summary>
    public KvCache Fork()
    {
        var copy = new KvCache(Owner, config, Math.Max(Length, 16));
        var used = Length * config.EmbeddingSize;
        for (var l = 0; l < config.LayerCount; l++)
        {
            Array.Copy(Keys[l], copy.Keys[l], used);
            Array.Copy(Values[l], copy.Values[l], used);
        }
        copy.Length = Length;
        return copy;
    }

    /// <summary>Makes room for <paramref name="length"/> tokens, doubling so appends stay amortised O(1).</summary>
    internal void Reserve(int length)
    {
        if (length <= Capacity) return;
        var capacity = Math.Min(config.ContextLength, Math.Max(length, Capacity * 2));
        for (var l = 0; l < config.LayerCount; l++)
        {
            Keys[l] = Grow(Keys[l], capacity);
            Values[l] = Grow(Values[l], capacity);
        }
        Capacity = capacity;
    }

    private float[] Grow(float[] old, int capacity)
    {
        var grown = new float[capacity * config.EmbeddingSize];
        Array.Copy(old, grown, Length * config.EmbeddingSize);
        return grown;
    }
}
