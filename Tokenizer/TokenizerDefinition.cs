namespace GptjAspire.Tokenizer;

/// <summary>Everything a byte-level BPE tokenizer is made of, as read from a model folder.</summary>
internal sealed record TokenizerDefinition(
    Dictionary<string, int> Vocab,
    List<(string Left, string Right)> Merges,
    List<AddedToken> AddedTokens,
    string? UnknownToken,
    bool FuseUnknown,
    bool IgnoreMerges,
    bool AddPrefixSpace,
    bool UseRegex,
    bool NfcNormalizer,
    string? EndOfTextToken);
