using System.Numerics.Tensors;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>One layer's keys or values of one sequence: a [position, width] block stored as f32 or f16.</summary>
/// <remarks>A fork's first positions are those of the rows it was forked from, read in place: the samples of one request
/// share their prompt's keys and values instead of each holding a copy, so attention over the prompt reads the same
/// memory for every sample. Positions below a fork's prefix are never written again (a cache only appends), so sharing
/// them needs no copy on write.</remarks>
internal sealed class KvRows
{
    // A page is 4 KiB or larger on every platform we run on; touching one element per 4 KiB faults every page in.
    private const int PageBytes = 4096;

    private readonly float[]? f32;
    private readonly Half[]? f16;
    private readonly int width;
    private readonly KvRows? prefix;
    private readonly int prefixLength;

    public KvRows(KvCacheType type, int width, int capacity) : this(type, width, capacity, null, 0)
    {
    }

    private KvRows(KvCacheType type, int width, int capacity, KvRows? prefix, int prefixLength)
    {
        this.width = width;
        this.prefix = prefix;
        this.prefixLength = prefixLength;
        var own = (long)(capacity - prefixLength) * width;
        if (type == KvCacheType.F16) f16 = new Half[own];
        else f32 = new float[own];
    }

    private KvCacheType Type => f16 is null ? KvCacheType.F32 : KvCacheType.F16;

    public static int ElementSize(KvCacheType type) => type == KvCacheType.F16 ? 2 : 4;

    /// <summary>Rows for <paramref name="capacity"/> positions whose first <paramref name="length"/> are these rows' own, shared.</summary>
    public KvRows Fork(int length, int capacity) => length == 0 ? new(Type, width, capacity) : new(Type, width, capacity, this, length);

    /// <summary>Rows for <paramref name="capacity"/> positions holding the first <paramref name="positions"/> of these (same prefix, own part copied).</summary>
    public KvRows Grow(int capacity, int positions)
    {
        var grown = new KvRows(Type, width, capacity, prefix, prefixLength);
        var used = (positions - prefixLength) * width;
        if (f16 is null) f32.AsSpan(0, used).CopyTo(grown.f32);
        else f16.AsSpan(0, used).CopyTo(grown.f16);
        return grown;
    }

    public void Write(int position, ReadOnlySpan<float> row)
    {
        if (position < prefixLength) throw new InvalidOperationException($"position {position} belongs to the shared prefix of {prefixLength}");
        var start = (position - prefixLength) * width;
        if (f16 is null) row.CopyTo(f32.AsSpan(start, width));
        else TensorPrimitives.ConvertToHalf(row, f16.AsSpan(start, width));
    }

    /// <summary><paramref name="count"/> features from <paramref name="from"/> of one position, as f32: the stored row itself, or converted into <paramref name="scratch"/>.</summary>
    public ReadOnlySpan<float> Read(int position, int from, int count, Span<float> scratch)
    {
        if (position < prefixLength) return prefix!.Read(position, from, count, scratch);
        var start = (position - prefixLength) * width + from;
        if (f16 is null) return f32.AsSpan(start, count);
        TensorPrimitives.ConvertToSingle(f16.AsSpan(start, count), scratch[..count]);
        return scratch[..count];
    }

    /// <summary>Writes a zero into every page of this cache's own positions (so only before they are written), so the pages
    /// are resident now rather than faulted in during a decode step.</summary>
    /// <remarks>A new large array comes from fresh zeroed pages the runtime does not touch; without this, the memory a
    /// reservation promised would only be committed token by token, and an overcommitted host would fail mid-generation.</remarks>
    public void Prefault()
    {
        if (f32 is not null)
            for (var i = 0; i < f32.Length; i += PageBytes / sizeof(float)) f32[i] = 0f;
        if (f16 is not null)
            for (var i = 0; i < f16.Length; i += PageBytes / 2) f16[i] = default;
    }
}
