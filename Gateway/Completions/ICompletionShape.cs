namespace GptjAspire.Gateway.Completions;

/// <summary>The OpenAI object a generation is answered with: <c>text_completion</c> or <c>chat.completion</c>, whole or as stream chunks.</summary>
/// <remarks>One instance serves one request: a chat stream remembers which choices already carried their role.</remarks>
public interface ICompletionShape
{
    /// <summary>Prefix of the response id (<c>cmpl-</c>, <c>chatcmpl-</c>).</summary>
    string IdPrefix { get; }

    object Whole(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage usage);

    /// <summary>One streamed chunk: text deltas, finish reasons (with empty text), or only the usage (no choices).</summary>
    object Chunk(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage? usage);
}
