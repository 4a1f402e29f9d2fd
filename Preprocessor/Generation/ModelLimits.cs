using GptjAspire.Preprocessor.Backend;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>The limits the Preprocessor enforces and <c>GetModelInfo</c> reports, so the Gateway checks requests against the same numbers.</summary>
/// <remarks>Each is the tightest of what the model folder (<c>config.json</c>), the backend's model configuration and the Preprocessor's
/// options say; the backend's are known once it was ready. <paramref name="KvCacheTokens"/>, where the backend states it, bounds
/// samples × (prompt + new tokens) of one request, or prompt + samples × new tokens where <paramref name="KvCacheSharesPrompt"/>.</remarks>
public sealed record ModelLimits(int ContextLength, int MaxSamples, int MaxStopSequences, int MaxPromptTokens, int MaxNewTokens, int? KvCacheTokens = null,
    bool KvCacheSharesPrompt = false)
{
    /// <summary>Rows of the model's embedding, the length of the logit bias sent to the backend; the tokenizer's vocabulary when unset.</summary>
    public int? VocabSize { get; init; }

    public static ModelLimits Resolve(int folderContextLength, PreprocessorOptions options, BackendLimits? backend)
    {
        var context = Tightest(folderContextLength, backend?.ContextLength);
        // A prompt must leave room for one new token, and one new token needs a prompt token to follow.
        var room = context - 1;
        return new ModelLimits(
            context,
            Tightest(options.MaxSamples, backend?.MaxSequences),
            options.MaxStopSequences,
            Tightest(Tightest(room, options.MaxPromptTokens), backend?.MaxPromptTokens),
            Tightest(room, options.MaxNewTokens),
            backend?.KvCacheTokens,
            backend?.KvCacheSharesPrompt ?? false);
    }

    static int Tightest(int limit, int? other) => other is { } value ? Math.Min(limit, value) : limit;
}
