using System.Buffers;

namespace GptjAspire.Tokenizer;

/// <summary>A growable list of token ids on pooled memory, so encoding allocates only its final array.</summary>
internal struct IdBuffer : IDisposable
{
    private int[] items;

    public IdBuffer(int capacity) => items = ArrayPool<int>.Shared.Rent(Math.Max(16, capacity));

    public int Count { get; private set; }

    public void Add(int id)
    {
        if (Count == items.Length)
        {
            Grow(Count + 1);
        }
        items[Count++] = id;
    }

    public void AddRange(ReadOnlySpan<int> ids)
    {
        if (Count + ids.Length > items.Length)
        {
            Grow(Count + ids.Length);
        }
        ids.CopyTo(items.AsSpan(Count));
        Count += ids.Length;
    }

    public readonly int[] ToArray() => items.AsSpan(0, Count).ToArray();

    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(items);
        items = [];
        Count = 0;
    }

    private void Grow(int needed)
    {
        var bigger = ArrayPool<int>.Shared.Rent(Math.Max(needed, items.Length * 2));
        items.AsSpan(0, Count).CopyTo(bigger);
        ArrayPool<int>.Shared.Return(items);
        items = bigger;
    }
}
