using System.Globalization;
using System.Text.Json;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>An OpenAI parameter for something GPT-J or this server does not have (tools, structured output, penalties,
/// token alternatives), accepted only with the value that asks for none of it: clients and SDKs send those values
/// explicitly, and refusing them would refuse a request this server can serve as asked.</summary>
/// <param name="Accepted">The accepted value as the error message shows it.</param>
public sealed record NeutralField(string Name, string Accepted, Func<JsonElement, bool> IsNeutral)
{
    /// <summary>A number field whose only accepted value is <paramref name="neutral"/> (1, 1.0 and 1e0 alike).</summary>
    public static NeutralField Number(string name, double neutral) =>
        new(name, neutral.ToString(CultureInfo.InvariantCulture), value => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && number == neutral);

    public static NeutralField Text(string name, params string[] neutral) =>
        new(name, string.Join(" or ", neutral.Select(text => $"\"{text}\"")), value => value.ValueKind == JsonValueKind.String && neutral.Contains(value.GetString()));

    public static NeutralField EmptyArray(string name) => new(name, "[]", value => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0);

    public static NeutralField EmptyObject(string name) => new(name, "{}", value => value.ValueKind == JsonValueKind.Object && !value.EnumerateObject().Any());

    /// <summary>Reads each field (null is absent) and refuses a value that asks for more than the neutral one, naming both.</summary>
    public static void RequireAll(RequestFields fields, IEnumerable<NeutralField> neutral)
    {
        foreach (var (name, accepted, isNeutral) in neutral)
            if (fields.Raw(name) is { } value && !isNeutral(value))
                throw ApiException.Invalid(name, $"'{name}' is not supported by this server (only {accepted} is accepted); got {Shown(value)}.");
    }

    // A scalar as it was sent; an array or object by its kind, so that a large tool list is not echoed back.
    static string Shown(JsonElement value) =>
        value.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False || value.ValueKind == JsonValueKind.String && value.GetString()!.Length <= 40
            ? value.GetRawText()
            : JsonBody.Describe(value);
}
