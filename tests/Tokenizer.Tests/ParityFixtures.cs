using System.IO.Compression;
using System.Text.Json;
using GptjAspire.Tokenizer;

namespace GptjAspire.Tokenizer.Tests;

/// <summary>The committed Hugging Face outputs (Fixtures/parity.json.gz) and the two test vocabularies.</summary>
internal static class ParityFixtures
{
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures");

    private static readonly Lazy<Fixture> Loaded = new(Load);
    private static readonly Dictionary<string, Lazy<BpeTokenizer>> Raw = Tokenizers(normalize: false);
    private static readonly Dictionary<string, Lazy<BpeTokenizer>> Nfc = Tokenizers(normalize: true);

    /// <summary>
    /// gpt2: vocab.json + merges.txt (GPT-2's files); vi: tokenizer.json trained by HF on the Vietnamese corpus;
    /// viOptions: vi with NFC normalizer, add_prefix_space and added tokens using lstrip/rstrip/single_word/normalized.
    /// </summary>
    public static TheoryData<string> Vocabularies => new("gpt2", "vi", "viOptions");

    public static IReadOnlyList<Case> Cases => Loaded.Value.Cases;

    /// <summary>The cases that have expectations for <paramref name="vocab"/>, with them.</summary>
    public static IReadOnlyList<(Case Case, Expected Expected)> CasesFor(string vocab) =>
        Cases.Where(c => c.For(vocab) is not null).Select(c => (c, c.For(vocab)!)).ToList();

    public static IReadOnlyList<DecodeCase> DecodeCases(string vocab) => Loaded.Value.Decode[vocab];

    /// <summary>Tokenizer as HF runs it (no NFC step of ours), or with our default NFC normalization.</summary>
    public static BpeTokenizer Tokenizer(string vocab, bool normalizeToNfc = false) =>
        (normalizeToNfc ? Nfc : Raw)[vocab].Value;

    private static Dictionary<string, Lazy<BpeTokenizer>> Tokenizers(bool normalize) => new()
    {
        ["gpt2"] = new(() => BpeTokenizer.FromDirectory(Path.Combine(Directory, "gpt2"), new TokenizerOptions { NormalizeToNfc = normalize })),
        ["vi"] = new(() => BpeTokenizer.FromDirectory(Path.Combine(Directory, "vi"), new TokenizerOptions { NormalizeToNfc = normalize })),
        ["viOptions"] = new(() => BpeTokenizer.FromDirectory(Path.Combine(Directory, "vi-options"), new TokenizerOptions { NormalizeToNfc = normalize })),
    };

    private static Fixture Load()
    {
        using var file = File.OpenRead(Path.Combine(Directory, "parity.json.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        return JsonSerializer.Deserialize<Fixture>(gzip, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
            ?? throw new InvalidDataException("parity.json.gz is empty");
    }

    public sealed record Fixture(List<Case> Cases, Dictionary<string, List<DecodeCase>> Decode);

    /// <summary>One input and HF's results under each vocabulary (viOptions is absent for the 100 KB inputs).</summary>
    public sealed record Case(string Kind, string Text, Expected Gpt2, Expected Vi, Expected? ViOptions)
    {
        public Expected? For(string vocab) => vocab switch
        {
            "gpt2" => Gpt2,
            "vi" => Vi,
            "viOptions" => ViOptions,
            _ => throw new ArgumentOutOfRangeException(nameof(vocab), vocab, null),
        };
    }

    /// <summary>HF's ids, and decoded texts where they differ from the input; NfcIds = ids of the input's NFC form when that differs.</summary>
    public sealed record Expected(int[] Ids, string? Decoded, string? DecodedSkipSpecial, int[]? NfcIds);

    public sealed record DecodeCase(int[] Ids, string Text, string SkipSpecial);
}
