namespace GptjAspire.Gateway.Completions;

/// <summary>OpenAI's <c>text_completion</c> object, the answer of <c>/v1/completions</c> whole and streamed.</summary>
public sealed class TextCompletionShape : ICompletionShape
{
    public string IdPrefix => "cmpl-";

    public object Whole(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage usage) =>
        new CompletionResponse(id, "text_completion", created, model, choices, usage);

    public object Chunk(string id, long created, string model, IReadOnlyList<CompletionChoice> choices, CompletionUsage? usage) =>
        new CompletionResponse(id, "text_completion", created, model, choices, usage);
}
