using System.Text;

namespace GptjAspire.Gateway.Chat;

/// <summary>
/// Renders a conversation as the plain-text transcript GPT-J continues (it is a base model, trained on no chat format):
/// system and developer text as it is followed by a blank line, then one line per turn, <c>User: ...</c> or
/// <c>Assistant: ...</c>, ending with <c>Assistant:</c> for the model to continue. Generation stops where the model
/// starts the next user turn (<see cref="NextUserTurn"/>). Documented in docs/request-path.md.
/// </summary>
public static class ChatTemplate
{
    const string UserPrefix = "User: ";
    const string AssistantPrefix = "Assistant: ";

    /// <summary>The stop sequence every chat request gets besides its own: the model writing the user's next line.</summary>
    public const string NextUserTurn = "\nUser:";

    public static string Render(IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages)
        {
            switch (message.Role)
            {
                case ChatRoles.System or ChatRoles.Developer:
                    prompt.Append(message.Content).Append("\n\n");
                    break;
                case ChatRoles.User:
                    prompt.Append(UserPrefix).Append(message.Content).Append('\n');
                    break;
                case ChatRoles.Assistant:
                    prompt.Append(AssistantPrefix).Append(message.Content).Append('\n');
                    break;
            }
        }
        return prompt.Append(AssistantPrefix.TrimEnd()).ToString();
    }
}
