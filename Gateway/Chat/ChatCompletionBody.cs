namespace GptjAspire.Gateway.Chat;

/// <summary>The request body of <c>/v1/chat/completions</c> as the OpenAPI document describes it; <see cref="ChatRequest"/> reads and checks it.</summary>
/// <remarks>Also accepted as in <c>/v1/completions</c>: <c>stream_options</c>, <c>top_k</c>, <c>repetition_penalty</c>, <c>min_tokens</c>, <c>user</c>,
/// OpenAI's <c>presence_penalty</c>, <c>frequency_penalty</c> and <c>logit_bias</c>.</remarks>
public sealed record ChatCompletionBody(
    string? Model,
    IReadOnlyList<ChatMessage> Messages,
    int? MaxCompletionTokens,
    int? MaxTokens,
    double? Temperature,
    double? TopP,
    int? N,
    IReadOnlyList<string>? Stop,
    ulong? Seed,
    bool? Stream);
