namespace GptjAspire.Gateway.Completions;

/// <summary>OpenAI's <c>text_completion</c> object, whole or as one streamed chunk (then <c>usage</c> is null except in the usage chunk).</summary>
public sealed record CompletionResponse(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<CompletionChoice> Choices,
    CompletionUsage? Usage);

/// <summary>One completion; <c>index</c> = prompt index × n + sample index, as OpenAI numbers them.</summary>
public sealed record CompletionChoice(int Index, string Text, object? Logprobs, string? FinishReason);

/// <summary>Token counts summed over all prompts and samples.</summary>
public sealed record CompletionUsage(int PromptTokens, int CompletionTokens, int TotalTokens);
