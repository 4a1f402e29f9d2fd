namespace GptjAspire.Gateway.Chat;

/// <summary>One checked message of a chat request: who said it (<see cref="ChatRoles"/>) and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The OpenAI message roles this server accepts; tool and function messages have no place in a plain-text prompt.</summary>
public static class ChatRoles
{
    public const string System = "system";
    public const string Developer = "developer";
    public const string User = "user";
    public const string Assistant = "assistant";

    public static readonly IReadOnlyList<string> All = [System, Developer, User, Assistant];
}
