namespace GptjAspire.Gateway.Models;

/// <summary>OpenAI's <c>GET /v1/models</c> response.</summary>
public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

/// <summary>One served model; <c>context_length</c> (prompt + max_tokens must fit in it) and <c>description</c> are extensions.</summary>
public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, int ContextLength, string Description);
