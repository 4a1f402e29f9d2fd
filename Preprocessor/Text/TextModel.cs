using System.Text;
using System.Text.Json;
using GptjAspire.Tokenizer;

namespace GptjAspire.Preprocessor.Text;

/// <summary>What the Preprocessor knows of the model from its folder: the tokenizer and the context window (Hugging Face <c>config.json</c>).</summary>
public sealed class TextModel
{
    /// <summary>Configuration key of the model folder, shared with CpuBackend.</summary>
    public const string PathKey = "Model:Path";

    /// <summary>Configuration key of the served model's name.</summary>
    public const string NameKey = "Model:Name";

    public TextModel(string name, string directory, BpeTokenizer tokenizer, int contextLength, int vocabSize)
    {
        Name = name;
        Directory = directory;
        Tokenizer = tokenizer;
        ContextLength = contextLength;
        VocabSize = vocabSize;
    }

    public string Name { get; }

    public string Directory { get; }

    public BpeTokenizer Tokenizer { get; }

    /// <summary>Tokens the model attends to (GPT-J's <c>n_positions</c>).</summary>
    public int ContextLength { get; }

    /// <summary>Rows of the model's embedding (<c>vocab_size</c>, padded past the tokenizer's: 50400 against 50257 in GPT-J),
    /// the length of a per-token tensor such as the logit bias.</summary>
    public int VocabSize { get; }

    /// <summary>Loads from <c>Model:Path</c>, or the demo checkpoint copied next to the binaries when unset.</summary>
    public static TextModel Load(IConfiguration configuration, ILogger logger)
    {
        var directory = configuration[PathKey] ?? Path.Combine(AppContext.BaseDirectory, "models", "gptj-vi-demo");
        var name = configuration[NameKey] ?? "gptj";
        RequireUnicodeNormalization();
        if (!System.IO.Directory.Exists(directory))
            throw new InvalidOperationException($"Model folder '{directory}' does not exist; set {PathKey} (env Model__Path) to a folder with config.json and the tokenizer files.");
        var tokenizer = BpeTokenizer.FromDirectory(directory);
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
            throw new InvalidOperationException($"'{configPath}' is missing; the Preprocessor needs it for the model's context length.");
        using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        var contextLength = ReadContextLength(config.RootElement, configPath);
        var vocabSize = ReadVocabSize(config.RootElement) ?? tokenizer.VocabSize;
        logger.LogInformation("Loaded tokenizer of {Model} from {Directory}: {VocabSize} tokens, context {ContextLength}, end-of-text id {EndOfTextId}",
            name, directory, tokenizer.VocabSize, contextLength, tokenizer.EndOfTextId);
        return new TextModel(name, directory, tokenizer, contextLength, vocabSize);
    }

    // Prompts and stop sequences are NFC-normalized before tokenizing, as the model's text was. Without ICU (.NET's
    // globalization-invariant mode, which chiseled container images turn on) string.Normalize returns non-ASCII text
    // unchanged, without an error: decomposed Vietnamese would then tokenize unlike the same text composed.
    static void RequireUnicodeNormalization()
    {
        if ("e\u0301".Normalize(NormalizationForm.FormC) != "\u00e9")
            throw new InvalidOperationException(
                "Unicode normalization (NFC) is unavailable in this process: the .NET runtime runs in globalization-invariant mode "
                + "(DOTNET_SYSTEM_GLOBALIZATION_INVARIANT, the default of chiseled images) or without ICU. The Preprocessor needs ICU (libicu): "
                + "run it on an image that has it and without that setting.");
    }

    static int? ReadVocabSize(JsonElement config) =>
        config.TryGetProperty("vocab_size", out var value) && value.TryGetInt32(out var size) && size > 0 ? size : null;

    // GPT-J's config names it n_positions; other GPT-style configs use n_ctx or max_position_embeddings.
    static int ReadContextLength(JsonElement config, string configPath)
    {
        foreach (var key in new[] { "n_positions", "max_position_embeddings", "n_ctx" })
            if (config.TryGetProperty(key, out var value) && value.TryGetInt32(out var length) && length > 0)
                return length;
        throw new InvalidOperationException($"'{configPath}' gives no context length (n_positions, max_position_embeddings or n_ctx).");
    }
}
