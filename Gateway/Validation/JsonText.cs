using System.Text.Json;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>Checks that every string in a JSON document, field names included, is Unicode text.</summary>
/// <remarks>
/// Valid UTF-8 can still spell an unpaired UTF-16 surrogate as an escape ("\ud800"), which RFC 8259 §8.2 allows
/// but no string can hold; System.Text.Json throws when such a name or value is read, so the whole body is checked
/// once here and every later read is safe.
/// </remarks>
public static class JsonText
{
    public static void RequireValidUnicode(JsonElement root) => Check(root, null);

    static void Check(JsonElement value, string? path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (!IsText(() => property.Name))
                        throw ApiException.Invalid(path, path is null
                            ? "A field name in the request body contains an escaped unpaired UTF-16 surrogate, which is not valid Unicode text."
                            : $"A field name in '{path}' contains an escaped unpaired UTF-16 surrogate, which is not valid Unicode text.");
                    Check(property.Value, path is null ? property.Name : $"{path}.{property.Name}");
                }
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                    Check(item, $"{path}[{index++}]");
                break;
            case JsonValueKind.String when !IsText(() => value.GetString()):
                throw ApiException.Invalid(path, $"'{path}' contains an escaped unpaired UTF-16 surrogate, which is not valid Unicode text.");
        }
    }

    static bool IsText(Func<string?> read)
    {
        try
        {
            read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
