using System.Text;
using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;

namespace GptjAspire.Gateway.Chat;

/// <summary>Reads OpenAI's <c>messages</c> array; every error names the exact element (<c>messages[1].content</c>).</summary>
public static class ChatMessages
{
    public static IReadOnlyList<ChatMessage> Parse(JsonElement? messages)
    {
        if (messages is not { } array)
            throw ApiException.Invalid("messages", "'messages' is required.");
        if (array.ValueKind != JsonValueKind.Array)
            throw ApiException.Invalid("messages", $"'messages' must be an array of messages, not {JsonBody.Describe(array)}.");
        var parsed = array.EnumerateArray().Select((message, i) => Message(message, $"messages[{i}]")).ToList();
        if (parsed.Count == 0)
            throw ApiException.Invalid("messages", "'messages' must hold at least one message.");
        return parsed;
    }

    static ChatMessage Message(JsonElement message, string path)
    {
        if (message.ValueKind != JsonValueKind.Object)
            throw ApiException.Invalid(path, $"'{path}' must be a message object, not {JsonBody.Describe(message)}.");
        string? role = null;
        string? content = null;
        // A null asks for nothing, as at the top level: messages copied from OpenAI-style responses carry "refusal": null,
        // "tool_calls": null and the like.
        foreach (var field in message.EnumerateObject().Where(field => field.Value.ValueKind != JsonValueKind.Null))
        {
            var fieldPath = $"{path}.{field.Name}";
            switch (field.Name)
            {
                case "role":
                    role = field.Value.ValueKind == JsonValueKind.String
                        ? field.Value.GetString()
                        : throw ApiException.Invalid(fieldPath, $"'{fieldPath}' must be a string, not {JsonBody.Describe(field.Value)}.");
                    break;
                case "content":
                    content = Content(field.Value, fieldPath);
                    break;
                case "name":
                    // A participant's name changes nothing in a "User:"/"Assistant:" transcript.
                    if (field.Value.ValueKind != JsonValueKind.String)
                        throw ApiException.Invalid(fieldPath, $"'{fieldPath}' must be a string, not {JsonBody.Describe(field.Value)}.");
                    break;
                default:
                    throw ApiException.Invalid(fieldPath, $"'{fieldPath}' is not supported by this server (messages hold role, content and name).");
            }
        }
        if (role is null)
            throw ApiException.Invalid($"{path}.role", $"'{path}.role' is required.");
        if (!ChatRoles.All.Contains(role))
            throw ApiException.Invalid($"{path}.role",
                $"'{path}.role' must be one of {string.Join(", ", ChatRoles.All)}; got '{role}'.");
        return new ChatMessage(role, content ?? throw ApiException.Invalid($"{path}.content", $"'{path}.content' is required."));
    }

    // A string, or an array of text parts ({"type": "text", "text": ...}) joined in order, as OpenAI allows.
    static string Content(JsonElement content, string path)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                var index = 0;
                foreach (var part in content.EnumerateArray())
                    text.Append(TextPart(part, $"{path}[{index++}]"));
                return text.ToString();
            default:
                throw ApiException.Invalid(path, $"'{path}' must be a string or an array of text parts, not {JsonBody.Describe(content)}.");
        }
    }

    static string TextPart(JsonElement part, string path)
    {
        if (part.ValueKind != JsonValueKind.Object)
            throw ApiException.Invalid(path, $"'{path}' must be a content part object, not {JsonBody.Describe(part)}.");
        if (!part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "text")
            throw ApiException.Invalid($"{path}.type", $"'{path}.type' must be \"text\": GPT-J reads text only.");
        if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            throw ApiException.Invalid($"{path}.text", $"'{path}.text' must be a string.");
        return text.GetString()!;
    }
}
