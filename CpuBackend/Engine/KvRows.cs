using System.Numerics.Tensors;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>One layer's keys or values of one sequence: a [position, width] block stored as f32 or f16.</summary>
/// <remarks>A fork's first positions are those of the rows it was forked from, read in place: the samples of one request
/// share their prompt's keys and values instead of each holding a copy, so attention over the prompt reads the same
/// memory for every sample. Positions below a fork's prefix are never written again (a cache only appends), so sharing
/// them needs no copy on write. The rows hold a reference to the <see cref="KvMemory"/> they lie in, and a fork to its
/// prefix, so memory is freed only when nothing reads it.</remarks>
internal sealed unsafe class KvRows
{
    // A page is 4 KiB or larger on every platform we run on; touching one element per 4 KiB faults every page in.
    private const int PageBytes = 4096;

    private readonly KvMemory memory;
    private readonly byte* own;
    private readonly long ownElements;
    private readonly int width;
    private readonly KvRows? prefix;
    private readonly int prefixLength;

    /// <param name="memory">Where this layer's own positions lie, from <paramref name="own"/> on.</param>
    public KvRows(KvCacheType type, int width, int capacity, KvMemory memory, byte* own, KvRows? prefix = null, int prefixLength = 0)
    {
        Type = type;
        this.width = width;
        this.memory = memory;
        this.own = own;
        this.prefix = prefix;
        this.prefixLength = prefixLength;
        ownElements = (long)(capacity - prefixLength) * width;
    }

    public KvCacheType Type { get; }

    /// <summary>Positions read from the rows this fork continues.</summary>
    public int PrefixLength => prefixLength;

    public static int ElementSize(KvCacheType type) => type == KvCacheType.F16 ? 2 : 4;

    /// <summary>Bytes of the positions a cache of <paramref name="capacity"/> holds itself past a shared prefix.</summary>
    public static long OwnBytes(KvCacheType type, int width, int capacity, int prefixLength) =>
        (long)(capacity - prefixLength) * width * ElementSize(type);

    /// <summary>Rows for <paramref name="capacity"/> positions in <paramref name="target"/> whose first <paramref name="length"/>
    /// are these rows' own, shared.</summary>
    public KvRows Fork(int length, int capacity, KvMemory target, byte* at) =>
        length == 0 ? new(Type, width, capacity, target, at) : new(Type, width, capacity, target, at, this, length);

    /// <summary>Rows for <paramref name="capacity"/> positions in <paramref name="target"/> holding the first <paramref name="positions"/>
    /// of these (same prefix, own part copied).</summary>
    public KvRows Grow(int capacity, int positions, KvMemory target, byte* at)
    {
        var grown = new KvRows(Type, width, capacity, target, at, prefix, prefixLength);
        Buffer.MemoryCopy(own, at, grown.ownElements * ElementSize(Type), OwnBytes(Type, width, positions, prefixLength));
        return grown;
    }

    public void Write(int position, ReadOnlySpan<float> row)
    {
        ThrowIfReleased();
        if (position < prefixLength) throw new InvalidOperationException($"position {position} belongs to the shared prefix of {prefixLength}");
        var start = Own(position, 0, width);
        if (Type == KvCacheType.F32) row.CopyTo(new Span<float>((float*)own + start, width));
        else TensorPrimitives.ConvertToHalf(row, new Span<Half>((Half*)own + start, width));
        GC.KeepAlive(memory);
    }

    /// <summary><paramref name="count"/> features from <paramref name="from"/> of one position of an f32 cache.</summary>
    /// <remarks>The span points into <see cref="KvMemory"/>: it is valid while these rows are reachable, which the caller's
    /// cache keeps them.</remarks>
    public ReadOnlySpan<float> Read(int position, int from, int count)
    {
        if (Type != KvCacheType.F32) throw new InvalidOperationException("an f16 cache is read as halves");
        return new ReadOnlySpan<float>(Address(position, from, count), count);
    }

    /// <summary>The address of <paramref name="count"/> features from <paramref name="from"/> of one position, as stored, for
    /// kernels that read many positions (<see cref="HeadKernels"/>).</summary>
    /// <remarks>Valid while these rows are reachable, which the caller's cache keeps them.</remarks>
    public byte* Address(int position, int from, int count)
    {
        if (position < prefixLength) return prefix!.Address(position, from, count);
        ThrowIfReleased();
        return own + Own(position, from, count) * ElementSize(Type);
    }

    /// <summary>Writes a zero into every page of this cache's own positions (so only before they are written), so the pages
    /// are resident now rather than faulted in during a decode step.</summary>
    /// <remarks>Fresh native memory is only reserved; without this, the memory a reservation promised would only be
    /// committed token by token, and an overcommitted host would fail mid-generation.</remarks>
    public void Prefault()
    {
        ThrowIfReleased();
        var bytes = ownElements * ElementSize(Type);
        for (long i = 0; i < bytes; i += PageBytes) own[i] = 0;
        GC.KeepAlive(memory);
    }

    private void ThrowIfReleased()
    {
        if (memory.Released) throw new ObjectDisposedException(nameof(KvCache), "The KV cache was released: its memory now belongs to another cache.");
    }

    /// <summary>The element index of feature <paramref name="from"/> of an own position, checked against the rows' bounds.</summary>
    private long Own(int position, int from, int count)
    {
        var start = (long)(position - prefixLength) * width + from;
        if (position < prefixLength || from < 0 || count < 0 || from + count > width || start + count > ownElements)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"features [{from}, {from + count}) of position {position} lie outside rows of width {width} holding positions [{prefixLength}, {prefixLength + ownElements / Math.Max(width, 1)})");
        return start;
    }
}
