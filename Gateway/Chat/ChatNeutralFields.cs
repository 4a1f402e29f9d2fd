using System.Text.Json;
using GptjAspire.Gateway.Validation;

namespace GptjAspire.Gateway.Chat;

/// <summary>The chat parameters for tools, structured output, audio, stored completions, service tiers and token
/// alternatives, which this server takes only with the value that asks for none of them (<see cref="NeutralField"/>).</summary>
public static class ChatNeutralFields
{
    public static readonly IReadOnlyList<NeutralField> Fields =
    [
        new("response_format", """{"type": "text"}""", value => value.ValueKind == JsonValueKind.Object
            && value.EnumerateObject().Count() == 1 && value.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text"),
        NeutralField.EmptyArray("tools"),
        NeutralField.EmptyArray("functions"),
        NeutralField.Text("tool_choice", "none"),
        NeutralField.Text("function_call", "none"),
        new("parallel_tool_calls", "true or false", value => value.ValueKind is JsonValueKind.True or JsonValueKind.False),
        new("store", "false", value => value.ValueKind == JsonValueKind.False),
        new("metadata", "an object of strings", value => value.ValueKind == JsonValueKind.Object
            && value.EnumerateObject().All(entry => entry.Value.ValueKind == JsonValueKind.String)),
        NeutralField.Text("service_tier", "auto", "default"),
        NeutralField.Number("top_logprobs", 0),
        new("modalities", """["text"]""", value => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 1
            && value[0].ValueKind == JsonValueKind.String && value[0].GetString() == "text"),
    ];
}
