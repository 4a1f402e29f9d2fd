namespace GptjAspire.CpuBackend.Engine;

/// <summary>One model's freed KV blocks, by size, kept for the next caches of those sizes (see <see cref="KvMemory"/>).</summary>
internal sealed class KvMemoryPool
{
    private readonly Lock gate = new();
    private readonly Dictionary<long, Stack<nint>> free = [];
    private long retained;

    /// <summary>Bytes of freed blocks kept at most; a block that would exceed it is given back to the OS. An eighth of the
    /// memory the process may use until the scheduler sets it to half the headroom its KV budget leaves.</summary>
    public long Limit { get; set; } = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8;

    /// <summary>A kept block of exactly <paramref name="size"/> bytes, or 0.</summary>
    public nint Take(long size)
    {
        lock (gate)
        {
            if (!free.TryGetValue(size, out var blocks) || !blocks.TryPop(out var block)) return 0;
            retained -= size;
            return block;
        }
    }

    /// <summary>Keeps a freed block if the limit allows; false when the caller must give it back.</summary>
    public bool Keep(nint block, long size)
    {
        lock (gate)
        {
            if (retained + size > Limit) return false;
            if (!free.TryGetValue(size, out var blocks)) free[size] = blocks = new Stack<nint>();
            blocks.Push(block);
            retained += size;
            return true;
        }
    }

    /// <summary>Bytes of the blocks kept now.</summary>
    public long RetainedBytes
    {
        get
        {
            lock (gate) return retained;
        }
    }

    /// <summary>Frees every kept block and keeps none from now on (the model is disposed; caches still alive give their
    /// blocks back to the OS when collected).</summary>
    public void Close()
    {
        List<(nint Block, long Size)> blocks;
        lock (gate)
        {
            blocks = [.. free.SelectMany(sized => sized.Value.Select(block => (block, sized.Key)))];
            free.Clear();
            retained = 0;
            Limit = 0;
        }
        foreach (var (block, size) in blocks) KvMemory.Free(block, size);
    }

    /// <summary>Kept blocks of <paramref name="size"/> bytes.</summary>
    public int Count(long size)
    {
        lock (gate) return free.TryGetValue(size, out var blocks) ? blocks.Count : 0;
    }
}
