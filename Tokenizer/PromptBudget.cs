namespace GptjAspire.Tokenizer;

/// <summary>What to do with a prompt longer than the model's budget.</summary>
public enum TruncationMode
{
    /// <summary>Refuse the prompt with <see cref="PromptTooLongException"/>.</summary>
    Reject,

    /// <summary>Drop tokens from the start and keep the most recent ones.</summary>
    KeepEnd,
}

/// <summary>Thrown when a prompt has more tokens than allowed and truncation is not wanted.</summary>
public sealed class PromptTooLongException(int tokenCount, int maxPromptTokens)
    : ArgumentException($"The prompt is {tokenCount} tokens long; at most {maxPromptTokens} fit in the context window.", "prompt")
{
    /// <summary>Tokens in the prompt.</summary>
    public int TokenCount { get; } = tokenCount;

    /// <summary>Tokens allowed.</summary>
    public int MaxPromptTokens { get; } = maxPromptTokens;
}

/// <summary>Fits an encoded prompt into the context window.</summary>
public static class PromptBudget
{
    /// <summary>Returns <paramref name="ids"/> when it fits, else rejects or keeps its last <paramref name="maxPromptTokens"/> tokens.</summary>
    public static int[] Fit(int[] ids, int maxPromptTokens, TruncationMode mode)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPromptTokens);
        if (ids.Length <= maxPromptTokens)
        {
            return ids;
        }
        return mode switch
        {
            TruncationMode.KeepEnd => ids[^maxPromptTokens..],
            TruncationMode.Reject => throw new PromptTooLongException(ids.Length, maxPromptTokens),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown truncation mode."),
        };
    }
}
