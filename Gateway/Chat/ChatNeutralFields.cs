using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;

namespace GptjAspire.Gateway.Chat;

/// <summary>OpenAI chat parameters for what GPT-J does not have (tools, structured output, audio, stored completions,
/// service tiers, token alternatives), accepted only with the value that asks for none of it: clients and SDKs send
/// those values explicitly, and refusing them would refuse a request this server can serve as asked.</summary>
public static class ChatNeutralFields
{
    static readonly (string Name, string Accepted, Func<JsonElement, bool> IsNeutral)[] Fields =
    [
        ("response_format", """{"type": "text"}""", value => value.ValueKind == JsonValueKind.Object
            && value.EnumerateObject().Count() == 1 && value.TryGetProperty("type", out var type) && IsString(type, "text")),
        ("tools", "[]", IsEmptyArray),
        ("functions", "[]", IsEmptyArray),
        ("tool_choice", "\"none\"", value => IsString(value, "none")),
        ("function_call", "\"none\"", value => IsString(value, "none")),
        ("parallel_tool_calls", "true or false", value => value.ValueKind is JsonValueKind.True or JsonValueKind.False),
        ("store", "false", value => value.ValueKind == JsonValueKind.False),
        ("metadata", "an object of strings", value => value.ValueKind == JsonValueKind.Object
            && value.EnumerateObject().All(entry => entry.Value.ValueKind == JsonValueKind.String)),
        ("service_tier", "\"auto\" or \"default\"", value => IsString(value, "auto") || IsString(value, "default")),
        ("top_logprobs", "0", value => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var count) && count == 0),
        ("modalities", """["text"]""", value => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 1 && IsString(value[0], "text")),
    ];

    /// <summary>Reads each of these fields (null is absent) and refuses a value that asks for more than plain text.</summary>
    public static void Require(RequestFields fields)
    {
        foreach (var (name, accepted, isNeutral) in Fields)
            if (fields.Raw(name) is { } value && !isNeutral(value))
                throw ApiException.Invalid(name, $"'{name}' is not supported by this server (only {accepted} is accepted).");
    }

    static bool IsString(JsonElement value, string text) => value.ValueKind == JsonValueKind.String && value.GetString() == text;

    static bool IsEmptyArray(JsonElement value) => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0;
}
