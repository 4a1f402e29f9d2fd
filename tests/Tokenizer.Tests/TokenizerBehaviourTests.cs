using System.Text;
using GptjAspire.Tokenizer;

namespace GptjAspire.Tokenizer.Tests;

/// <summary>Behaviour beyond parity: Unicode handling, streaming, loading, budgets.</summary>
public sealed class TokenizerBehaviourTests
{
    private static BpeTokenizer Gpt2 => ParityFixtures.Tokenizer("gpt2", normalizeToNfc: true);

    [Fact]
    public void Decomposed_Vietnamese_encodes_like_its_precomposed_form_by_default()
    {
        const string precomposed = "Tiếng Việt có dấu: người, đường, thuở.";
        var decomposed = precomposed.Normalize(NormalizationForm.FormD);
        Assert.NotEqual(precomposed, decomposed);

        Assert.Equal(Gpt2.Encode(precomposed), Gpt2.Encode(decomposed));
        Assert.NotEqual(Gpt2.Encode(precomposed), ParityFixtures.Tokenizer("gpt2").Encode(decomposed));
    }

    [Fact]
    public void Text_holding_the_noncharacter_U_FFFE_is_normalized_around_it_and_encoded_as_its_bytes()
    {
        // .NET's own normalization throws on U+FFFE; NFC never acts across it, so each side is normalized alone.
        const string decomposed = "Vie\u0323\u0302t\uFFFEe\u0301 \uFFFE";

        Assert.Equal("Việt\uFFFEé \uFFFE", Nfc.Normalize(decomposed));
        Assert.Equal(Gpt2.Encode("Việt\uFFFEé \uFFFE"), Gpt2.Encode(decomposed));
        Assert.Equal("Việt\uFFFEé \uFFFE", Gpt2.Decode(Gpt2.Encode(decomposed)));
    }

    // Hugging Face tokenizers 0.23.2's ids for the vi-options vocabulary (its tokenizer.json has an NFC normalizer and
    // added tokens of every option), found by a fuzz comparison on 27 Nov and checked against HF by hand.
    [Theory]
    [InlineData("<sep>\u0338", new[] { 9271, 130, 9221, 9211 })]
    [InlineData("<mask>\u0338", new[] { 9270, 130, 9221, 9211 })]
    [InlineData("<|endoftext|>\u0338", new[] { 9269, 130, 9221, 9211 })]
    [InlineData("\u2ADCab.", new[] { 130, 128, 104, 154, 9221, 9211, 832, 940 })]
    public void A_normalizer_in_tokenizer_json_acts_between_the_added_tokens_it_does_not_normalize(string text, int[] hf)
    {
        // Normalizing first composed ">" with U+0338 into U+226F, and the special token was lost.
        Assert.Equal(hf, ParityFixtures.Tokenizer("viOptions").Encode(text));
    }

    [Theory]
    [InlineData("ab\u24B6", new[] { 1655, 128, 9208, 113 })]
    [InlineData("\u24B6ab.", new[] { 130, 128, 9208, 113, 832, 13 })]
    [InlineData(".\u24B6Việt Nam.", new[] { 940, 128, 9208, 113, 53, 609, 3561, 13 })]
    [InlineData("ab\U0001F130", new[] { 1655, 9253, 156, 9204, 107 })]
    public void Circled_and_squared_letters_are_word_characters_for_single_word_tokens(string text, int[] hf)
    {
        // Rust's \w holds them (Other_Alphabetic); no Unicode category .NET reports does.
        Assert.Equal(hf, ParityFixtures.Tokenizer("viOptions").Encode(text));
        Assert.Equal(hf, ParityFixtures.Tokenizer("viOptions", normalizeToNfc: true).Encode(text));
    }

    [Fact]
    public void A_normalized_added_token_written_decomposed_matches_as_hf_normalizes_it()
    {
        // vi-options' normalized token "ngườ" written in NFD: HF normalizes its content when it builds the table.
        using var folder = new TemporaryFolder();
        var json = File.ReadAllText(Path.Combine(ParityFixtures.Directory, "vi-options", "tokenizer.json"));
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer.json"), json.Replace("\"ngườ\"", $"\"{"ngườ".Normalize(NormalizationForm.FormD)}\""));
        var tokenizer = BpeTokenizer.FromDirectory(folder.Path, new TokenizerOptions { NormalizeToNfc = false });

        Assert.Equal([9273, 2086], tokenizer.Encode("người"));
        Assert.Equal([9273, 2086], tokenizer.Encode("người".Normalize(NormalizationForm.FormD)));
    }

    [Theory]
    [InlineData("abc", 0xD800, "def", 3)]
    [InlineData("", 0xDC00, "", 0)]
    [InlineData("ok 😀 then ", 0xD83D, "", 11)]
    public void Unpaired_surrogate_is_rejected_with_its_position(string before, int surrogate, string after, int position)
    {
        // Built here: attribute strings are stored as UTF-8, which cannot carry a lone surrogate.
        var text = before + (char)surrogate + after;
        var error = Assert.Throws<InvalidTextException>(() => Gpt2.Encode(text));
        Assert.Equal(position, error.Position);
        Assert.Contains("surrogate", error.Message);
        Assert.Equal("text", error.ParamName);
        Assert.Throws<InvalidTextException>(() => Gpt2.CountTokens(text));
    }

    [Fact]
    public void Decode_of_split_multibyte_character_waits_for_the_rest()
    {
        // "ế" is E1 BA BF: GPT-2 spells " thế" as Ġth + á + º + ¿, one byte per token for the letter.
        var ids = Gpt2.Encode(" thế");
        Assert.Equal(4, ids.Length);
        var decoder = Gpt2.CreateIncrementalDecoder();

        Assert.Equal(" th", decoder.Append(ids[0]));
        Assert.Equal("", decoder.Append(ids[1]));
        Assert.Equal("", decoder.Append(ids[2]));
        Assert.Equal("ế", decoder.Append(ids[3]));
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Incremental_decoder_flush_replaces_an_unfinished_character_like_Decode()
    {
        var ids = Gpt2.Encode(" thế")[..3];
        var decoder = Gpt2.CreateIncrementalDecoder();
        var streamed = string.Concat(ids.Select(decoder.Append)) + decoder.Flush();

        Assert.Equal(Gpt2.Decode(ids), streamed);
        Assert.EndsWith("\uFFFD", streamed);
    }

    [Fact]
    public void Incremental_decoder_emits_invalid_bytes_at_once_instead_of_waiting()
    {
        // A lead byte followed by a byte that cannot continue it is already decidable: U+FFFD then the next text.
        var lead = Gpt2.Encode("ế")[0];
        var decoder = Gpt2.CreateIncrementalDecoder();
        Assert.Equal("", decoder.Append(lead));
        Assert.Equal("\uFFFDA", decoder.Append(Gpt2.Encode("A")[0]));
    }

    [Fact]
    public void End_of_text_is_a_special_token_split_out_before_BPE()
    {
        var ids = Gpt2.Encode("Xin chào<|endoftext|>Hà Nội");
        Assert.Equal(50256, Gpt2.EndOfTextId);
        Assert.Equal(50256, Gpt2.SpecialTokens["<|endoftext|>"]);
        Assert.Single(ids, 50256);
        Assert.Equal("Xin chào<|endoftext|>Hà Nội", Gpt2.Decode(ids));
        Assert.Equal("Xin chàoHà Nội", Gpt2.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Gpt2_vocabulary_sizes_and_ids_match_the_published_tokenizer()
    {
        Assert.Equal(50257, Gpt2.VocabSize);
        Assert.Equal([15496, 995], Gpt2.Encode("Hello world"));
        Assert.Equal(9270, ParityFixtures.Tokenizer("vi").VocabSize);
        Assert.Equal(9269, ParityFixtures.Tokenizer("vi").EndOfTextId);
    }

    [Fact]
    public void Ids_outside_the_vocabulary_decode_to_nothing_as_in_Hugging_Face()
    {
        // GPT-J's embedding has 50400 rows for 50257 tokens; the padding ids can be sampled and must not crash decoding.
        Assert.Equal("Hello", Gpt2.Decode([15496, 50300, -1]));
    }

    [Fact]
    public void CountTokens_equals_the_length_of_Encode()
    {
        foreach (var c in ParityFixtures.Cases.Take(300))
        {
            Assert.Equal(Gpt2.Encode(c.Text).Length, Gpt2.CountTokens(c.Text));
        }
    }

    [Fact]
    public void Concurrent_encoding_gives_the_same_ids_as_sequential()
    {
        var tokenizer = BpeTokenizer.FromDirectory(Path.Combine(ParityFixtures.Directory, "vi"));
        var texts = ParityFixtures.Cases.Where(c => c.Text.Length < 2000).Take(1500).Select(c => c.Text).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = tokenizer.Encode(texts[i]));

        var fresh = BpeTokenizer.FromDirectory(Path.Combine(ParityFixtures.Directory, "vi"));
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(fresh.Encode(texts[i]), parallel[i]);
        }
    }

    [Fact]
    public void Missing_model_folder_is_reported_by_path()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-tokenizer-" + Guid.NewGuid());
        var error = Assert.Throws<DirectoryNotFoundException>(() => BpeTokenizer.FromDirectory(missing));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Folder_without_tokenizer_files_names_what_is_missing()
    {
        using var dir = new TemporaryFolder();
        var error = Assert.Throws<FileNotFoundException>(() => BpeTokenizer.FromDirectory(dir.Path));
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Fact]
    public void Vocab_and_merges_folder_picks_up_added_and_special_tokens_from_its_config_files()
    {
        using var dir = new TemporaryFolder();
        foreach (var file in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(ParityFixtures.Directory, "gpt2", file), Path.Combine(dir.Path, file));
        }
        File.WriteAllText(Path.Combine(dir.Path, "added_tokens.json"), """{"<|pad|>": 50257}""");
        File.WriteAllText(Path.Combine(dir.Path, "special_tokens_map.json"),
            """{"eos_token": {"content": "<|endoftext|>"}, "pad_token": "<|pad|>"}""");
        var tokenizer = BpeTokenizer.FromDirectory(dir.Path);

        var ids = tokenizer.Encode("Hello<|pad|> world");
        Assert.Equal([15496, 50257, 995], ids);
        Assert.Equal("Hello world", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(50258, tokenizer.VocabSize);
        Assert.Equal(50256, tokenizer.EndOfTextId);
        Assert.Equal(50257, tokenizer.SpecialTokens["<|pad|>"]);
    }

    [Fact]
    public void Unsupported_pre_tokenizer_is_refused_by_name()
    {
        using var dir = new TemporaryFolder();
        var json = File.ReadAllText(Path.Combine(ParityFixtures.Directory, "vi", "tokenizer.json"))
            .Replace("\"pre_tokenizer\":{\"type\":\"ByteLevel\"", "\"pre_tokenizer\":{\"type\":\"Whitespace\"", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), json);
        var error = Assert.Throws<NotSupportedException>(() => BpeTokenizer.FromDirectory(dir.Path));
        Assert.Contains("Whitespace", error.Message);
    }
}
