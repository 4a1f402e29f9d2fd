using System.Runtime.CompilerServices;

namespace GptjAspire.Tokenizer;

/// <summary>BPE merges keyed by the pair of token ids: rank (priority) and the id of the merged token.</summary>
/// <remarks>Open addressing over a power-of-two table; the key packs both ids in one ulong so a lookup is one multiply and a probe.</remarks>
internal sealed class MergeTable
{
    private const ulong Empty = ulong.MaxValue;
    private readonly ulong[] keys;
    private readonly int[] ranks;
    private readonly int[] mergedIds;
    private readonly int shift;

    public MergeTable(IReadOnlyList<(int Left, int Right, int Merged)> merges)
    {
        var bits = 4;
        while ((1 << bits) < merges.Count * 2)
        {
            bits++;
        }
        keys = new ulong[1 << bits];
        ranks = new int[1 << bits];
        mergedIds = new int[1 << bits];
        shift = 64 - bits;
        Array.Fill(keys, Empty);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var (left, right, merged) = merges[rank];
            var key = Key(left, right);
            var slot = Slot(key);
            while (keys[slot] != Empty && keys[slot] != key)
            {
                slot = (slot + 1) & (keys.Length - 1);
            }
            // HF collects merges into a map in file order, so a repeated pair keeps its last rank.
            keys[slot] = key;
            ranks[slot] = rank;
            mergedIds[slot] = merged;
        }
    }

    /// <summary>Looks up the pair; returns false when the two tokens never merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out int rank, out int mergedId)
    {
        var key = Key(left, right);
        var slot = Slot(key);
        while (true)
        {
            var k = keys[slot];
            if (k == key)
            {
                rank = ranks[slot];
                mergedId = mergedIds[slot];
                return true;
            }
            if (k == Empty)
            {
                rank = 0;
                mergedId = 0;
                return false;
            }
            slot = (slot + 1) & (keys.Length - 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(int left, int right) => ((ulong)(uint)left << 32) | (uint)right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> shift);
}
