using System.Numerics.Tensors;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>One layer's keys or values of one sequence: a [position, width] block stored as f32 or f16.</summary>
internal sealed class KvRows
{
    // A page is 4 KiB or larger on every platform we run on; touching one element per 4 KiB faults every page in.
    private const int PageBytes = 4096;

    private readonly float[]? f32;
    private readonly Half[]? f16;
    private readonly int width;

    public KvRows(KvCacheType type, int width, int capacity)
    {
        this.width = width;
        if (type == KvCacheType.F16) f16 = new Half[(long)capacity * width];
        else f32 = new float[(long)capacity * width];
    }

    public static int ElementSize(KvCacheType type) => type == KvCacheType.F16 ? 2 : 4;

    public void Write(int position, ReadOnlySpan<float> row)
    {
        if (f16 is null) row.CopyTo(f32.AsSpan(position * width, width));
        else TensorPrimitives.ConvertToHalf(row, f16.AsSpan(position * width, width));
    }

    /// <summary><paramref name="count"/> features from <paramref name="from"/> of one position, as f32: the stored row itself, or converted into <paramref name="scratch"/>.</summary>
    public ReadOnlySpan<float> Read(int position, int from, int count, Span<float> scratch)
    {
        var start = position * width + from;
        if (f16 is null) return f32.AsSpan(start, count);
        TensorPrimitives.ConvertToSingle(f16.AsSpan(start, count), scratch[..count]);
        return scratch[..count];
    }

    /// <summary>Copies the first <paramref name="positions"/> positions into <paramref name="target"/> (same type and width).</summary>
    public void CopyTo(KvRows target, int positions)
    {
        var used = positions * width;
        if (f16 is null) f32.AsSpan(0, used).CopyTo(target.f32);
        else f16.AsSpan(0, used).CopyTo(target.f16);
    }

    /// <summary>Writes a zero into every page (so only on an empty cache), so the pages are resident now rather than faulted in during a decode step.</summary>
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
