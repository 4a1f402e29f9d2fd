using System.Text.Json;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>A JSON array of token ids in a request: integers from 0 (<see cref="JsonInteger"/>: 5.0 is 5), and below the
/// vocabulary's size where the endpoint checks it.</summary>
public static class TokenIds
{
    /// <param name="name">The field a refusal names as its <c>param</c>.</param>
    /// <param name="path">Where the array is, as a refusal's message shows it (<c>prompt[1]</c>).</param>
    /// <param name="vocabSize">The upper bound, for an endpoint that checks it itself; otherwise the Preprocessor does.</param>
    public static int[] Read(JsonElement array, string name, string path, int? vocabSize = null)
    {
        var ids = new int[array.GetArrayLength()];
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || JsonInteger.Read(item) is not { } id || id < 0 || id >= (vocabSize ?? (long)int.MaxValue + 1))
            {
                var range = vocabSize is { } size ? $"from 0 to {size - 1}" : "(an integer from 0)";
                var sent = item.ValueKind == JsonValueKind.Number ? item.GetRawText() : JsonBody.Describe(item);
                throw ApiException.Invalid(name, $"'{path}[{index}]' must be a token id {range}, not {sent}.");
            }
            ids[index++] = (int)id;
        }
        return ids;
    }
}
