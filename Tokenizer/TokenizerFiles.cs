using System.Text.Json;

namespace GptjAspire.Tokenizer;

/// <summary>Reads a Hugging Face model folder: <c>tokenizer.json</c>, or <c>vocab.json</c> + <c>merges.txt</c> (+ <c>added_tokens.json</c>) with their config files.</summary>
internal static class TokenizerFiles
{
    private const string EndOfText = "<|endoftext|>";

    public static TokenizerDefinition Read(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory))
        {
            throw new DirectoryNotFoundException($"Tokenizer folder '{modelDirectory}' does not exist.");
        }
        var tokenizerJson = Path.Combine(modelDirectory, "tokenizer.json");
        var vocabJson = Path.Combine(modelDirectory, "vocab.json");
        var mergesTxt = Path.Combine(modelDirectory, "merges.txt");
        var config = ReadConfig(modelDirectory);
        if (File.Exists(tokenizerJson))
        {
            return ReadTokenizerJson(tokenizerJson, config);
        }
        if (File.Exists(vocabJson) && File.Exists(mergesTxt))
        {
            return ReadVocabAndMerges(vocabJson, mergesTxt, config);
        }
        throw new FileNotFoundException(
            $"Tokenizer folder '{modelDirectory}' has neither tokenizer.json nor vocab.json + merges.txt.");
    }

    private static TokenizerDefinition ReadTokenizerJson(string path, TokenizerConfig config)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
        if (type != "BPE")
        {
            throw Unsupported(path, $"model type '{type}' (only BPE)");
        }
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
        {
            throw Unsupported(path, "BPE dropout");
        }
        if (Bool(model, "byte_fallback", false))
        {
            throw Unsupported(path, "BPE byte_fallback");
        }
        if (!string.IsNullOrEmpty(Str(model, "continuing_subword_prefix")) || !string.IsNullOrEmpty(Str(model, "end_of_word_suffix")))
        {
            throw Unsupported(path, "BPE continuing_subword_prefix / end_of_word_suffix");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }
        var merges = new List<(string, string)>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            // Older files write "a b", newer ones ["a", "b"].
            merges.Add(merge.ValueKind == JsonValueKind.Array
                ? (merge[0].GetString()!, merge[1].GetString()!)
                : SplitMergeLine(merge.GetString()!, path));
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedTokens.EnumerateArray())
            {
                added.Add(new AddedToken(
                    token.GetProperty("content").GetString()!,
                    token.GetProperty("id").GetInt32(),
                    Bool(token, "special", false),
                    Bool(token, "single_word", false),
                    Bool(token, "lstrip", false),
                    Bool(token, "rstrip", false),
                    Bool(token, "normalized", true)));
            }
        }

        var nfc = false;
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            nfc = Str(normalizer, "type") == "NFC" ? true : throw Unsupported(path, $"normalizer '{Str(normalizer, "type")}' (only NFC)");
        }
        var preTokenizer = root.GetProperty("pre_tokenizer");
        if (Str(preTokenizer, "type") != "ByteLevel")
        {
            throw Unsupported(path, $"pre_tokenizer '{Str(preTokenizer, "type")}' (only ByteLevel)");
        }
        if (!root.TryGetProperty("decoder", out var decoder) || Str(decoder, "type") != "ByteLevel")
        {
            throw Unsupported(path, "a decoder other than ByteLevel");
        }
        if (root.TryGetProperty("post_processor", out var post) && post.ValueKind != JsonValueKind.Null && Str(post, "type") != "ByteLevel")
        {
            // ByteLevel post-processing only trims offsets; anything else would insert tokens we do not produce.
            throw Unsupported(path, $"post_processor '{Str(post, "type")}'");
        }

        return new TokenizerDefinition(
            vocab,
            merges,
            added,
            Str(model, "unk_token"),
            Bool(model, "fuse_unk", false),
            Bool(model, "ignore_merges", false),
            Bool(preTokenizer, "add_prefix_space", true),
            Bool(preTokenizer, "use_regex", true),
            nfc,
            config.EosToken ?? (vocab.ContainsKey(EndOfText) || added.Any(a => a.Content == EndOfText) ? EndOfText : null));
    }

    private static TokenizerDefinition ReadVocabAndMerges(string vocabPath, string mergesPath, TokenizerConfig config)
    {
        Dictionary<string, int> vocab;
        using (var stream = File.OpenRead(vocabPath))
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new InvalidDataException($"'{vocabPath}' is not a JSON object of token → id.");
        }
        vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        foreach (var line in File.ReadLines(mergesPath))
        {
            // HF skips the "#version" header and blank lines.
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0)
            {
                continue;
            }
            merges.Add(SplitMergeLine(line, mergesPath));
        }

        // GPT2Tokenizer's defaults: <|endoftext|> is bos, eos and unk, registered as a special token.
        var specials = config.SpecialTokens.Count > 0 || config.AddedTokens.Count > 0
            ? config.SpecialTokens
            : vocab.ContainsKey(EndOfText) ? [EndOfText] : [];
        var added = new List<AddedToken>(config.AddedTokens);
        // Older checkpoints list extra tokens in added_tokens.json (content → id); specials among them stay special.
        var addedTokensJson = Path.Combine(Path.GetDirectoryName(vocabPath)!, "added_tokens.json");
        if (File.Exists(addedTokensJson))
        {
            using var stream = File.OpenRead(addedTokensJson);
            var extra = JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new InvalidDataException($"'{addedTokensJson}' is not a JSON object of token → id.");
            foreach (var (content, id) in extra.Where(e => added.All(a => a.Content != e.Key)))
            {
                var special = specials.Contains(content);
                added.Add(new AddedToken(content, id, special, false, false, false, !special));
            }
        }
        var nextId = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        foreach (var special in specials.Where(s => added.All(a => a.Content != s)))
        {
            added.Add(new AddedToken(special, vocab.TryGetValue(special, out var id) ? id : nextId++, true, false, false, false, false));
        }
        return new TokenizerDefinition(
            vocab, merges, added, null, false, false, config.AddPrefixSpace ?? false, true, false,
            config.EosToken ?? (specials.Contains(EndOfText) ? EndOfText : null));
    }

    private static (string, string) SplitMergeLine(string line, string path)
    {
        var space = line.IndexOf(' ');
        if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
        {
            throw new InvalidDataException($"'{path}': merge '{line}' is not two tokens separated by one space.");
        }
        return (line[..space], line[(space + 1)..]);
    }

    private sealed record TokenizerConfig(string? EosToken, List<string> SpecialTokens, List<AddedToken> AddedTokens, bool? AddPrefixSpace);

    /// <summary>tokenizer_config.json (eos_token, added_tokens_decoder, add_prefix_space) and special_tokens_map.json.</summary>
    private static TokenizerConfig ReadConfig(string directory)
    {
        string? eos = null;
        bool? addPrefixSpace = null;
        var specials = new List<string>();
        var added = new List<AddedToken>();
        var configPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
            var root = doc.RootElement;
            eos = TokenContent(root, "eos_token");
            if (root.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                addPrefixSpace = aps.GetBoolean();
            }
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in decoder.EnumerateObject())
                {
                    var token = entry.Value;
                    added.Add(new AddedToken(
                        token.GetProperty("content").GetString()!,
                        int.Parse(entry.Name, System.Globalization.CultureInfo.InvariantCulture),
                        Bool(token, "special", false),
                        Bool(token, "single_word", false),
                        Bool(token, "lstrip", false),
                        Bool(token, "rstrip", false),
                        Bool(token, "normalized", true)));
                }
            }
        }
        var mapPath = Path.Combine(directory, "special_tokens_map.json");
        if (File.Exists(mapPath))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(mapPath));
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind == JsonValueKind.Array)
                {
                    specials.AddRange(entry.Value.EnumerateArray().Select(ContentOf).OfType<string>());
                }
                else if (ContentOf(entry.Value) is { } content)
                {
                    specials.Add(content);
                }
            }
            eos ??= TokenContent(doc.RootElement, "eos_token");
        }
        return new TokenizerConfig(eos, specials.Distinct().ToList(), added, addPrefixSpace);
    }

    private static string? TokenContent(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? ContentOf(value) : null;

    private static string? ContentOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
        _ => null,
    };

    private static bool Bool(JsonElement element, string name, bool fallback) =>
        element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : fallback;

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static NotSupportedException Unsupported(string path, string what) =>
        new($"'{path}' uses {what}, which this byte-level BPE tokenizer does not implement.");
}
