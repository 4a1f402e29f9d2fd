using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace GptjAspire.Tokenizer;

/// <summary>The byte-level BPE model: turns one pre-tokenized piece into token ids by applying merges in rank order.</summary>
/// <remarks>
/// Follows HF <c>BPE::merge_word</c>: start from one symbol per byte (spelled with the ByteLevel alphabet),
/// repeatedly merge the adjacent pair with the lowest rank, leftmost first on ties. Results are cached per piece.
/// </remarks>
internal sealed class BpeModel
{
    // HF caches words shorter than 256 chars; we do the same and bound the entry count so hostile input cannot grow memory.
    private const int MaxCachedPieceLength = 256;
    private const int CacheCapacity = 100_000;
    // Above this many symbols the quadratic scan loses to a heap (HF always uses a heap).
    private const int ScanLimit = 128;

    private readonly MergeTable merges;
    private readonly int[] byteToId;
    private readonly int unknownId;
    private readonly bool fuseUnknown;
    private readonly Dictionary<string, int>? wholeWordVocab;
    private readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheLookup;
    private int cacheCount;

    /// <param name="vocab">token string (ByteLevel spelling) → id</param>
    /// <param name="mergePairs">merges in rank order, as token strings</param>
    /// <param name="unknownToken">HF <c>unk_token</c>; null drops bytes missing from the vocabulary, as HF does</param>
    /// <param name="fuseUnknown">HF <c>fuse_unk</c></param>
    /// <param name="ignoreMerges">HF <c>ignore_merges</c>: a piece that is itself a vocabulary token is emitted whole</param>
    public BpeModel(
        IReadOnlyDictionary<string, int> vocab,
        IReadOnlyList<(string Left, string Right)> mergePairs,
        string? unknownToken,
        bool fuseUnknown,
        bool ignoreMerges)
    {
        var resolved = new List<(int, int, int)>(mergePairs.Count);
        for (var i = 0; i < mergePairs.Count; i++)
        {
            var (left, right) = mergePairs[i];
            if (!vocab.TryGetValue(left, out var leftId) || !vocab.TryGetValue(right, out var rightId))
            {
                throw new InvalidDataException($"BPE merge #{i + 1} '{left} {right}' uses a token missing from the vocabulary.");
            }
            if (!vocab.TryGetValue(left + right, out var mergedId))
            {
                throw new InvalidDataException($"BPE merge #{i + 1} '{left} {right}' produces '{left + right}', which is missing from the vocabulary.");
            }
            resolved.Add((leftId, rightId, mergedId));
        }
        merges = new MergeTable(resolved);

        byteToId = new int[256];
        for (var b = 0; b < 256; b++)
        {
            byteToId[b] = vocab.TryGetValue(ByteLevelAlphabet.ByteToChar((byte)b).ToString(), out var id) ? id : -1;
        }

        unknownId = -1;
        if (unknownToken is not null)
        {
            unknownId = vocab.TryGetValue(unknownToken, out var unk)
                ? unk
                : throw new InvalidDataException($"BPE unk_token '{unknownToken}' is not in the vocabulary.");
        }
        this.fuseUnknown = fuseUnknown;
        wholeWordVocab = ignoreMerges ? new Dictionary<string, int>(vocab, StringComparer.Ordinal) : null;
        cacheLookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Appends the ids of one piece (original text, before the byte-level mapping) to <paramref name="output"/>.</summary>
    public void EncodePiece(ReadOnlySpan<char> piece, ref IdBuffer output)
    {
        var cacheable = piece.Length < MaxCachedPieceLength;
        if (cacheable && cacheLookup.TryGetValue(piece, out var cached))
        {
            output.AddRange(cached);
            return;
        }

        var byteCount = Encoding.UTF8.GetByteCount(piece);
        int[]? rented = null;
        var symbols = byteCount <= 512 ? stackalloc int[512] : (rented = ArrayPool<int>.Shared.Rent(byteCount));
        try
        {
            var count = Merge(piece, byteCount, symbols);
            var ids = symbols[..count];
            output.AddRange(ids);
            if (cacheable && Volatile.Read(ref cacheCount) < CacheCapacity && cache.TryAdd(piece.ToString(), ids.ToArray()))
            {
                Interlocked.Increment(ref cacheCount);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Writes the piece's final token ids to the start of <paramref name="symbols"/> and returns how many.</summary>
    private int Merge(ReadOnlySpan<char> piece, int byteCount, Span<int> symbols)
    {
        byte[]? rentedBytes = null;
        var bytes = byteCount <= 1024 ? stackalloc byte[1024] : (rentedBytes = ArrayPool<byte>.Shared.Rent(byteCount));
        try
        {
            Encoding.UTF8.GetBytes(piece, bytes);
            bytes = bytes[..byteCount];
            if (wholeWordVocab is not null && TryWholeWord(bytes, out var wholeId))
            {
                symbols[0] = wholeId;
                return 1;
            }

            var count = 0;
            var previousUnknown = false;
            foreach (var b in bytes)
            {
                var id = byteToId[b];
                if (id >= 0)
                {
                    symbols[count++] = id;
                    previousUnknown = false;
                }
                else if (unknownId >= 0 && !(fuseUnknown && previousUnknown))
                {
                    symbols[count++] = unknownId;
                    previousUnknown = true;
                }
            }
            return count <= ScanLimit ? MergeByScan(symbols[..count]) : MergeByHeap(symbols[..count]);
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }
        }
    }

    private bool TryWholeWord(ReadOnlySpan<byte> bytes, out int id)
    {
        Span<char> spelled = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            spelled[i] = ByteLevelAlphabet.ByteToChar(bytes[i]);
        }
        return wholeWordVocab!.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(spelled, out id);
    }

    /// <summary>Short words: keep the rank of every adjacent pair and rescan for the minimum after each merge.</summary>
    private int MergeByScan(Span<int> symbols)
    {
        var n = symbols.Length;
        if (n < 2)
        {
            return n;
        }
        Span<int> ranks = stackalloc int[n - 1];
        Span<int> mergedIds = stackalloc int[n - 1];
        for (var i = 0; i < n - 1; i++)
        {
            SetPair(symbols, ranks, mergedIds, i);
        }

        while (n > 1)
        {
            var best = 0;
            var bestRank = ranks[0];
            for (var i = 1; i < n - 1; i++)
            {
                if (ranks[i] < bestRank)
                {
                    bestRank = ranks[i];
                    best = i;
                }
            }
            if (bestRank == int.MaxValue)
            {
                break;
            }

            symbols[best] = mergedIds[best];
            symbols[(best + 2)..n].CopyTo(symbols[(best + 1)..]);
            ranks[(best + 1)..(n - 1)].CopyTo(ranks[best..]);
            mergedIds[(best + 1)..(n - 1)].CopyTo(mergedIds[best..]);
            n--;
            if (best > 0)
            {
                SetPair(symbols, ranks, mergedIds, best - 1);
            }
            if (best < n - 1)
            {
                SetPair(symbols, ranks, mergedIds, best);
            }
        }
        return n;
    }

    private void SetPair(Span<int> symbols, Span<int> ranks, Span<int> mergedIds, int i)
    {
        if (merges.TryGet(symbols[i], symbols[i + 1], out var rank, out var merged))
        {
            ranks[i] = rank;
            mergedIds[i] = merged;
        }
        else
        {
            ranks[i] = int.MaxValue;
        }
    }

    /// <summary>Long words: linked symbols and a min-heap of (rank, position), stale entries skipped on pop, as HF does.</summary>
    private int MergeByHeap(Span<int> symbols)
    {
        var n = symbols.Length;
        if (n == 0)
        {
            return 0;
        }
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        var heap = new PriorityQueue<int, long>(n);
        for (var i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
            if (i + 1 < n && merges.TryGet(symbols[i], symbols[i + 1], out var rank, out _))
            {
                heap.Enqueue(i, Priority(rank, i));
            }
        }

        while (heap.TryDequeue(out var pos, out var priority))
        {
            var right = next[pos];
            if (!alive[pos] || right < 0
                || !merges.TryGet(symbols[pos], symbols[right], out var rank, out var merged)
                || Priority(rank, pos) != priority)
            {
                continue;
            }
            symbols[pos] = merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0)
            {
                prev[next[pos]] = pos;
            }
            if (prev[pos] >= 0 && merges.TryGet(symbols[prev[pos]], symbols[pos], out var leftRank, out _))
            {
                heap.Enqueue(prev[pos], Priority(leftRank, prev[pos]));
            }
            if (next[pos] >= 0 && merges.TryGet(symbols[pos], symbols[next[pos]], out var rightRank, out _))
            {
                heap.Enqueue(pos, Priority(rightRank, pos));
            }
        }

        var count = 0;
        for (var i = 0; i >= 0; i = next[i])
        {
            symbols[count++] = symbols[i];
        }
        return count;
    }

    private static long Priority(int rank, int position) => ((long)rank << 32) | (uint)position;
}
