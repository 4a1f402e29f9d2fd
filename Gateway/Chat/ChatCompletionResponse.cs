using System.Text.Json.Serialization;
using GptjAspire.Gateway.Completions;

namespace GptjAspire.Gateway.Chat;

/// <summary>OpenAI's <c>chat.completion</c> object.</summary>
public sealed record ChatCompletionResponse(
    string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, CompletionUsage Usage);

/// <summary>One sample's reply; <c>index</c> numbered as in <see cref="CompletionChoice"/>.</summary>
public sealed record ChatChoice(int Index, ChatReply Message, object? Logprobs, string? FinishReason);

/// <summary>The assistant's message.</summary>
public sealed record ChatReply(string Role, string Content);

/// <summary>OpenAI's <c>chat.completion.chunk</c>: deltas, finish reasons, or (choices empty) the usage.</summary>
public sealed record ChatCompletionChunk(
    string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, CompletionUsage? Usage);

/// <summary>One choice's part of a chunk.</summary>
public sealed record ChatChunkChoice(int Index, ChatDelta Delta, object? Logprobs, string? FinishReason);

/// <summary>What a chunk adds to a reply: the role in a choice's first chunk, then text; absent parts are left out, as OpenAI does.</summary>
public sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);
