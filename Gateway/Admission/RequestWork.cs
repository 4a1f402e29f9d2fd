using System.Text;
using GptjAspire.Gateway.Completions;

namespace GptjAspire.Gateway.Admission;

/// <summary>The work a request asks of the backend, in work units: sequences × (prompt tokens + new tokens), the
/// positions its KV cache will hold at most. Known before the Preprocessor tokenizes, so prompt tokens are estimated.</summary>
/// <remarks>Only ratios between requests matter: the drain rate is measured in the same units (the estimates of the
/// requests that finished), so a constant error in the estimate cancels out.</remarks>
public static class RequestWork
{
    // A byte-level BPE token is at least one UTF-8 byte; Vietnamese text averages a few bytes per token (each syllable
    // one or two tokens, diacritics two or three bytes per letter). Erring towards more tokens refuses rather than over-admits.
    const int BytesPerToken = 3;

    /// <summary><c>/predict</c>: prompt + continuation is capped at <paramref name="maxLength"/> for each of the samples.</summary>
    public static long ForPredict(int samples, int maxLength) => (long)samples * maxLength;

    /// <summary><c>/v1/completions</c> and chat: every prompt × n samples × (its tokens, estimated for text, + max_tokens).</summary>
    public static long ForCompletion(IReadOnlyList<CompletionPrompt> prompts, int n, int maxTokens) =>
        prompts.Sum(prompt => (long)n * (PromptTokens(prompt) + maxTokens));

    /// <summary>The part of <see cref="ForCompletion"/>'s work a generation that ended early had done: each prompt whose
    /// generation began (it sent tokens), n × its tokens, plus every token it sent.</summary>
    public static long Delivered(IReadOnlyList<CompletionPrompt> prompts, int n, IReadOnlyList<long> tokensSent) =>
        prompts.Select((prompt, p) => tokensSent[p] == 0 ? 0 : n * PromptTokens(prompt) + tokensSent[p]).Sum();

    static long PromptTokens(CompletionPrompt prompt) => prompt.TokenIds.Count > 0 ? prompt.TokenIds.Count : PromptTokens(prompt.Text);

    /// <summary>An estimate of the prompt's token count from its UTF-8 length, rounded up.</summary>
    public static long PromptTokens(string prompt) => (Encoding.UTF8.GetByteCount(prompt) + BytesPerToken - 1) / BytesPerToken;
}
