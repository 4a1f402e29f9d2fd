using System.Text.Json;
using System.Text.Unicode;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>GPT-J hyper-parameters, read from a Hugging Face <c>config.json</c>.</summary>
public sealed record GptjConfig(
    int VocabSize,
    int ContextLength,
    int EmbeddingSize,
    int LayerCount,
    int HeadCount,
    int RotaryDim,
    int InnerSize,
    float LayerNormEpsilon,
    int BosTokenId,
    int EosTokenId)
{
    /// <summary>The longest context this engine serves. Its rotary tables and per-position buffers are sized by n_positions
    /// at load; a config asking for more (GPT-J has 2,048) is refused rather than allocating gigabytes for it.</summary>
    public const int MaxContextLength = 131_072;

    /// <summary>Features per attention head.</summary>
    public int HeadDim => EmbeddingSize / HeadCount;

    /// <summary>Reads an HF GPT-J config; a missing or inconsistent field is a <see cref="CheckpointFormatException"/> naming it.</summary>
    public static GptjConfig Load(string configJsonPath)
    {
        JsonElement root;
        var bytes = File.ReadAllBytes(configJsonPath);
        // JsonDocument checks UTF-8 only when a string is read, as an InvalidOperationException: check it first.
        if (!Utf8.IsValid(bytes)) throw new CheckpointFormatException(configJsonPath, null, "not valid UTF-8");
        try
        {
            using var document = JsonDocument.Parse(bytes);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(configJsonPath, null, $"not valid JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(configJsonPath, null, "must hold a JSON object");

        int Int(string field, int? fallback)
        {
            if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
                return fallback ?? throw new CheckpointFormatException(configJsonPath, null, $"field '{field}' is missing");
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
                throw new CheckpointFormatException(configJsonPath, null, $"field '{field}' must be an integer, found {value.GetRawText()}");
            return number;
        }

        if (root.TryGetProperty("activation_function", out var activation) &&
            activation.ValueKind == JsonValueKind.String && !activation.ValueEquals("gelu_new"))
            throw new CheckpointFormatException(configJsonPath, null, $"activation_function {activation.GetRawText()} is not supported (GPT-J uses gelu_new)");

        var embedding = Int("n_embd", null);
        var heads = Int("n_head", null);
        var context = Int("n_positions", Int("n_ctx", 2048));
        var epsilon = 1e-5f;
        if (root.TryGetProperty("layer_norm_epsilon", out var eps) && eps.ValueKind != JsonValueKind.Null)
        {
            if (eps.ValueKind != JsonValueKind.Number)
                throw new CheckpointFormatException(configJsonPath, null, $"field 'layer_norm_epsilon' must be a number, found {eps.GetRawText()}");
            epsilon = eps.TryGetSingle(out var value) ? value : float.NaN;
        }
        // HF: n_inner null means 4 * n_embd, which must itself fit.
        if (4L * embedding > int.MaxValue)
            throw new CheckpointFormatException(configJsonPath, null, $"field 'n_embd' is {embedding}; 4 x n_embd (the MLP width when n_inner is not given) must fit 32 bits");
        var config = new GptjConfig(
            VocabSize: Int("vocab_size", null),
            ContextLength: context,
            EmbeddingSize: embedding,
            LayerCount: Int("n_layer", null),
            HeadCount: heads,
            // HF: rotary_dim null means rotary over the whole head.
            RotaryDim: Int("rotary_dim", heads > 0 ? embedding / heads : 0),
            InnerSize: Int("n_inner", 4 * embedding),
            LayerNormEpsilon: epsilon,
            BosTokenId: Int("bos_token_id", 50256),
            EosTokenId: Int("eos_token_id", 50256));
        config.Validate(configJsonPath);
        return config;
    }

    private void Validate(string source)
    {
        void Positive(string field, int value)
        {
            if (value <= 0) throw new CheckpointFormatException(source, null, $"field '{field}' must be positive, found {value}");
        }
        Positive("vocab_size", VocabSize);
        Positive("n_positions", ContextLength);
        Positive("n_embd", EmbeddingSize);
        Positive("n_layer", LayerCount);
        Positive("n_head", HeadCount);
        Positive("n_inner", InnerSize);
        if (EmbeddingSize % HeadCount != 0)
            throw new CheckpointFormatException(source, null, $"n_embd {EmbeddingSize} is not a multiple of n_head {HeadCount}");
        if (RotaryDim <= 0 || RotaryDim % 2 != 0 || RotaryDim > HeadDim)
            throw new CheckpointFormatException(source, null, $"rotary_dim {RotaryDim} must be even and at most the head size {HeadDim}");
        if (!(LayerNormEpsilon > 0 && float.IsFinite(LayerNormEpsilon)))
            throw new CheckpointFormatException(source, null, $"layer_norm_epsilon must be a positive number, found {LayerNormEpsilon}");
        if (ContextLength > MaxContextLength)
            throw new CheckpointFormatException(source, null, $"n_positions {ContextLength} is more than the {MaxContextLength} positions this engine serves");
        if ((uint)BosTokenId >= (uint)VocabSize || (uint)EosTokenId >= (uint)VocabSize)
            throw new CheckpointFormatException(source, null, $"bos_token_id {BosTokenId} and eos_token_id {EosTokenId} must be token ids of the vocabulary [0, {VocabSize})");
    }
}
