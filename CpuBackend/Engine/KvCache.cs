namespace GptjAspire.CpuBackend.Engine;

/// <summary>The keys and values of one sequence for every layer, up to a capacity fixed when it is created (or, for an unsized cache, grown by doubling).</summary>
public sealed unsafe class KvCache
{
    private readonly GptjConfig config;
    private readonly KvMemoryPool pool;
    private KvMemory memory;

    /// <param name="prefix">The cache this one continues (<see cref="Fork(int)"/>), whose positions it reads in place.</param>
    internal KvCache(object owner, KvMemoryPool pool, GptjConfig config, int capacity, KvCacheType type, KvCache? prefix = null)
    {
        Owner = owner;
        this.pool = pool;
        this.config = config;
        Type = type;
        Capacity = capacity;
        Keys = new KvRows[config.LayerCount];
        Values = new KvRows[config.LayerCount];
        var shared = prefix?.Length ?? 0;
        (memory, var layerBytes) = Allocate(capacity, shared);
        for (var l = 0; l < config.LayerCount; l++)
        {
            Layer(memory, layerBytes, l, out var keys, out var values);
            Keys[l] = prefix is null ? new KvRows(type, config.EmbeddingSize, capacity, memory, keys) : prefix.Keys[l].Fork(shared, capacity, memory, keys);
            Values[l] = prefix is null ? new KvRows(type, config.EmbeddingSize, capacity, memory, values) : prefix.Values[l].Fork(shared, capacity, memory, values);
        }
    }

    /// <summary>Tokens held so far.</summary>
    public int Length { get; internal set; }

    public KvCacheType Type { get; }

    internal object Owner { get; }

    internal int Capacity { get; private set; }

    /// <summary>Per layer, [position, n_embd] keys after rotary.</summary>
    internal KvRows[] Keys { get; }

    /// <summary>Per layer, [position, n_embd] values.</summary>
    internal KvRows[] Values { get; }

    /// <summary>Bytes one position takes in a cache of this model: keys and values of every layer.</summary>
    public static long BytesPerPosition(GptjConfig config, KvCacheType type) =>
        2L * config.LayerCount * config.EmbeddingSize * KvRows.ElementSize(type);

    /// <summary>A cache that continues this prefix, so several samples continue one prefill.</summary>
    public KvCache Fork() => Fork(Math.Max(Length, 16));

    /// <summary>A cache that continues this prefix, preallocated (and prefaulted) for <paramref name="capacity"/> positions.</summary>
    /// <remarks>The fork reads this cache's positions in place (<see cref="KvRows"/>): they are never written again, and the
    /// fork holds only its own. Both caches stay independent from here on.</remarks>
    public KvCache Fork(int capacity)
    {
        if (capacity < Length || capacity > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"A fork holds the {Length} cached positions and at most the context length {config.ContextLength}.");
        var fork = new KvCache(Owner, pool, config, capacity, Type, this);
        fork.Prefault();
        fork.Length = Length;
        return fork;
    }

    /// <summary>Makes room for <paramref name="length"/> tokens, doubling so appends stay amortised O(1); a cache created for its full length never grows.</summary>
    internal void Reserve(int length)
    {
        if (length <= Capacity) return;
        var capacity = Math.Min(config.ContextLength, Math.Max(length, Capacity * 2));
        (memory, var layerBytes) = Allocate(capacity, Keys[0].PrefixLength);
        for (var l = 0; l < config.LayerCount; l++)
        {
            Layer(memory, layerBytes, l, out var keys, out var values);
            Keys[l] = Keys[l].Grow(capacity, Length, memory, keys);
            Values[l] = Values[l].Grow(capacity, Length, memory, values);
        }
        Capacity = capacity;
    }

    /// <summary>One block for the own positions of every layer's keys and values, and the bytes of each of them.</summary>
    private (KvMemory Memory, long LayerBytes) Allocate(int capacity, int prefixLength)
    {
        var layerBytes = KvRows.OwnBytes(Type, config.EmbeddingSize, capacity, prefixLength);
        return (new KvMemory(2L * config.LayerCount * layerBytes, pool), layerBytes);
    }

    /// <summary>Where layer <paramref name="layer"/>'s own keys and values start in a block from <see cref="Allocate"/>: each
    /// layer's keys, then its values.</summary>
    private static void Layer(KvMemory memory, long layerBytes, int layer, out byte* keys, out byte* values)
    {
        keys = memory.Pointer + 2L * layer * layerBytes;
        values = keys + layerBytes;
    }

    /// <summary>Gives this cache's memory to its model's pool now. Only when nothing reads this cache or a fork of it again
    /// (the scheduler releases a finished request's caches together); reading or writing it afterwards throws. A grown
    /// cache's earlier blocks, which forks may still read, are left to the collector.</summary>
    internal void Release() => memory.Release();

    internal void Prefault()
    {
        for (var l = 0; l < config.LayerCount; l++)
        {
            Keys[l].Prefault();
            Values[l].Prefault();
        }
    }
}
