using System.Buffers;
using System.Text;

namespace GptjAspire.Tokenizer;

/// <summary>Hugging Face–exact byte-level BPE (GPT-2 / GPT-J): encodes text to token ids and decodes them back.</summary>
/// <remarks>
/// Pipeline, as HF <c>Tokenizer::encode</c> with a ByteLevel pre-tokenizer: (our option) NFC → split out added tokens →
/// GPT-2 pattern split → bytes spelled with the ByteLevel alphabet → BPE merges. Thread-safe; share one instance.
/// </remarks>
public sealed class BpeTokenizer
{
    private static readonly UTF8Encoding LossyUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly BpeModel model;
    private readonly AddedVocabulary addedVocabulary;
    private readonly bool normalizeToNfc;
    private readonly bool addPrefixSpace;
    private readonly bool useRegex;
    private readonly byte[]?[] idBytes;
    private readonly bool[] idIsSpecial;

    private BpeTokenizer(TokenizerDefinition definition, TokenizerOptions options)
    {
        model = new BpeModel(definition.Vocab, definition.Merges, definition.UnknownToken, definition.FuseUnknown, definition.IgnoreMerges);
        // Our option normalizes the whole text first (HF's encode of the NFC text); without it, a tokenizer.json NFC
        // normalizer acts as HF's does, between the added tokens it does not normalize.
        normalizeToNfc = options.NormalizeToNfc;
        addedVocabulary = new AddedVocabulary(definition.AddedTokens, nfcBetweenRawTokens: definition.NfcNormalizer && !normalizeToNfc);
        addPrefixSpace = definition.AddPrefixSpace;
        useRegex = definition.UseRegex;

        var maxId = Math.Max(
            definition.Vocab.Count == 0 ? -1 : definition.Vocab.Values.Max(),
            definition.AddedTokens.Count == 0 ? -1 : definition.AddedTokens.Max(t => t.Id));
        idBytes = new byte[]?[maxId + 1];
        idIsSpecial = new bool[maxId + 1];
        foreach (var (token, id) in definition.Vocab)
        {
            idBytes[id] = DecoderBytes(token);
        }
        // Added tokens take precedence over the model vocabulary for id → token, as in HF.
        foreach (var token in definition.AddedTokens)
        {
            idBytes[token.Id] = DecoderBytes(token.Content);
        }
        // HF skips by content: any id whose token text is a special token's content is skipped.
        var specialContents = definition.AddedTokens.Where(t => t.Special).Select(t => t.Content).ToHashSet(StringComparer.Ordinal);
        foreach (var token in definition.AddedTokens.Where(t => t.Special))
        {
            idIsSpecial[token.Id] = true;
        }
        foreach (var (token, id) in definition.Vocab)
        {
            if (specialContents.Contains(token) && !definition.AddedTokens.Any(a => a.Id == id && a.Content != token))
            {
                idIsSpecial[id] = true;
            }
        }

        SpecialTokens = definition.AddedTokens.Where(t => t.Special)
            .GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.First().Id, StringComparer.Ordinal);
        VocabSize = definition.Vocab.Count + definition.AddedTokens.Select(t => t.Content).Distinct()
            .Count(content => !definition.Vocab.ContainsKey(content));
        if (definition.EndOfTextToken is { } eos)
        {
            var added = definition.AddedTokens.FirstOrDefault(t => t.Content == eos);
            EndOfTextId = added?.Id ?? (definition.Vocab.TryGetValue(eos, out var id) ? id : null);
        }
    }

    /// <summary>Number of distinct tokens, model vocabulary plus added tokens (HF <c>get_vocab_size(true)</c>).</summary>
    public int VocabSize { get; }

    /// <summary>Special tokens by content (e.g. <c>&lt;|endoftext|&gt;</c> → 50256).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The end-of-text / EOS token id, when the tokenizer has one.</summary>
    public int? EndOfTextId { get; }

    /// <summary>Loads <c>tokenizer.json</c>, or <c>vocab.json</c> + <c>merges.txt</c> (+ <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>).</summary>
    public static BpeTokenizer FromDirectory(string modelDirectory, TokenizerOptions? options = null) =>
        new(TokenizerFiles.Read(modelDirectory), options ?? new TokenizerOptions());

    /// <summary>Token ids of <paramref name="text"/>, identical to HF <c>encode(text, add_special_tokens=True).ids</c> (after NFC when enabled).</summary>
    /// <exception cref="InvalidTextException">the text is not well-formed Unicode</exception>
    public int[] Encode(string text)
    {
        var prepared = TextPreparation.Prepare(text, normalizeToNfc);
        var ids = new IdBuffer(prepared.Length / 2);
        try
        {
            EncodeInto(prepared, ref ids);
            return ids.ToArray();
        }
        finally
        {
            ids.Dispose();
        }
    }

    /// <summary>How many tokens <see cref="Encode"/> would return.</summary>
    public int CountTokens(string text)
    {
        var prepared = TextPreparation.Prepare(text, normalizeToNfc);
        var ids = new IdBuffer(prepared.Length / 2);
        try
        {
            EncodeInto(prepared, ref ids);
            return ids.Count;
        }
        finally
        {
            ids.Dispose();
        }
    }

    /// <summary>Text of <paramref name="ids"/>, identical to HF <c>decode</c>: ids outside the vocabulary are skipped, invalid UTF-8 becomes U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var length = 0;
        foreach (var id in ids)
        {
            length += BytesOf(id, skipSpecialTokens).Length;
        }
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = 0;
            foreach (var id in ids)
            {
                var bytes = BytesOf(id, skipSpecialTokens);
                bytes.CopyTo(rented.AsSpan(written));
                written += bytes.Length;
            }
            return DecodeUtf8(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>A decoder for streaming: feed ids one by one, get only newly completed text.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>The bytes a token contributes to decoded text (empty for unknown ids and skipped special tokens).</summary>
    internal ReadOnlySpan<byte> BytesOf(int id, bool skipSpecialTokens)
    {
        if ((uint)id >= (uint)idBytes.Length || (skipSpecialTokens && idIsSpecial[id]))
        {
            return [];
        }
        return idBytes[id];
    }

    /// <summary>UTF-8 to text with each maximal invalid subsequence replaced by U+FFFD, like Rust's <c>String::from_utf8_lossy</c>.</summary>
    internal static string DecodeUtf8(ReadOnlySpan<byte> bytes) => LossyUtf8.GetString(bytes);

    private void EncodeInto(string text, ref IdBuffer ids)
    {
        var state = new EncodeState(this, ids);
        addedVocabulary.Split(text, ref state,
            static (span, ref s) => s.Tokenizer.EncodeSegment(span, ref s.Ids),
            static (token, ref s) => s.Ids.Add(token.Id));
        ids = state.Ids;
    }

    private void EncodeSegment(ReadOnlySpan<char> segment, ref IdBuffer ids)
    {
        // HF ByteLevel: add_prefix_space prepends " " to every segment between added tokens that lacks one.
        if (addPrefixSpace && segment[0] != ' ')
        {
            segment = string.Concat(" ", segment);
        }
        if (!useRegex)
        {
            model.EncodePiece(segment, ref ids);
            return;
        }
        var start = 0;
        while (start < segment.Length)
        {
            var end = Gpt2PreTokenizer.NextPieceEnd(segment, start);
            model.EncodePiece(segment[start..end], ref ids);
            start = end;
        }
    }

    /// <summary>HF ByteLevel decoder: a token spelled entirely in the byte alphabet stands for those bytes, any other token for its own UTF-8.</summary>
    private static byte[] DecoderBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            var b = ByteLevelAlphabet.CharToByte(token[i]);
            if (b < 0)
            {
                return Encoding.UTF8.GetBytes(token);
            }
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    private ref struct EncodeState(BpeTokenizer tokenizer, IdBuffer ids)
    {
        public readonly BpeTokenizer Tokenizer = tokenizer;
        public IdBuffer Ids = ids;
    }
}
