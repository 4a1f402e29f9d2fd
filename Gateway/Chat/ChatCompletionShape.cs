using GptjAspire.Gateway.Completions;

namespace GptjAspire.Gateway.Chat;

/// <summary>Answers a generation as <c>chat.completion</c>, or as <c>chat.completion.chunk</c>s whose first delta per choice carries the role.</summary>
public sealed class ChatCompletionShape : ICompletionShape
{
    readonly HashSet<int> _started = [];

    public string IdPrefix => "chatcmpl-";

    public object Whole(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage usage) =>
        new ChatCompletionResponse(id, "chat.completion", created, model,
            choices.Select(c => new ChatChoice(c.Index, new ChatReply(ChatRoles.Assistant, c.Text), null, c.FinishReason)).ToList(), usage);

    // The stream writes chunks one at a time, so the set needs no lock.
    public object Chunk(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage? usage) =>
        new ChatCompletionChunk(id, "chat.completion.chunk", created, model, choices.Select(Delta).ToList(), usage);

    ChatChunkChoice Delta(CompletionChoice choice)
    {
        var role = _started.Add(choice.Index) ? ChatRoles.Assistant : null;
        var content = choice.FinishReason is null || choice.Text.Length > 0 ? choice.Text : null;
        return new ChatChunkChoice(choice.Index, new ChatDelta(role, content), null, choice.FinishReason);
    }
}
