using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;

namespace GptjAspire.Gateway.Completions;

/// <summary>One prompt of a completion: text, or token ids of the model's tokenizer, sent to the model as they are (OpenAI's
/// token-array prompt, which evaluation harnesses send when they tokenize themselves).</summary>
public sealed record CompletionPrompt(string Text, IReadOnlyList<int> TokenIds)
{
    public static CompletionPrompt FromText(string text) => new(text, []);

    public bool IsEmpty => Text.Length == 0 && TokenIds.Count == 0;

    /// <summary>Reads <paramref name="name"/> in any of OpenAI's four forms: a string, an array of strings, an array of token
    /// ids (one prompt) or an array of token-id arrays; null when absent. Token ids are checked to be integers from 0 here
    /// and against the vocabulary by the Preprocessor.</summary>
    public static IReadOnlyList<CompletionPrompt>? Read(RequestFields fields, string name)
    {
        if (fields.Raw(name) is not { } value)
            return null;
        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0 && value[0].ValueKind is JsonValueKind.Number or JsonValueKind.Array)
        {
            if (value[0].ValueKind == JsonValueKind.Number)
                return [new CompletionPrompt("", Validation.TokenIds.Read(value, name, name))];
            var prompts = new List<CompletionPrompt>();
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                var path = $"{name}[{index++}]";
                if (item.ValueKind != JsonValueKind.Array)
                    throw ApiException.Invalid(name, $"'{path}' must be an array of token ids like the prompts before it, not {JsonBody.Describe(item)}.");
                prompts.Add(new CompletionPrompt("", Validation.TokenIds.Read(item, name, path)));
            }
            return prompts;
        }
        if (value.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            throw ApiException.Invalid(name, $"'{name}' must be a string, an array of strings, an array of token ids or an array of token-id arrays, not {JsonBody.Describe(value)}.");
        return fields.StringOrStrings(name)!.Select(FromText).ToList();
    }
}
