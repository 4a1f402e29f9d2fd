using System.Text.Json;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>Typed access to the fields of a JSON request object; a wrong type or an unknown field is a 400 naming the field.</summary>
/// <remarks>JSON <c>null</c> counts as absent, as OpenAI's API treats it. Strings and names are known to be Unicode text (<see cref="JsonText"/>).</remarks>
/// <param name="path">Where <paramref name="body"/> is in the request, for an object nested in it (<c>stream_options</c>):
/// errors name its fields by their whole path (<c>stream_options.include_usage</c>), as <see cref="JsonText"/> does.</param>
public sealed class RequestFields(JsonElement body, string? path = null)
{
    readonly HashSet<string> _known = new(StringComparer.Ordinal);

    /// <summary>A field's name as errors give it: its path from the top of the request.</summary>
    string Path(string name) => path is null ? name : $"{path}.{name}";

    JsonElement? Get(string name)
    {
        _known.Add(name);
        return body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
    }

    public string? String(string name)
    {
        if (Get(name) is not { } value)
            return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw WrongType(name, "a string", value);
    }

    public bool? Boolean(string name)
    {
        if (Get(name) is not { } value)
            return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "a boolean", value),
        };
    }

    /// <summary>An integer from <paramref name="min"/> to <paramref name="max"/> (<see cref="JsonInteger"/>: 50.0 is 50); one
    /// out of that range, however large, is refused naming the range.</summary>
    public long? Integer(string name, long min, long max)
    {
        if (Get(name) is not { } value)
            return null;
        if (value.ValueKind != JsonValueKind.Number)
            throw WrongType(name, "an integer", value);
        if (JsonInteger.Read(value) is not { } integer)
            throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be an integer; got {value.GetRawText()}.");
        if (integer < min || integer > max)
            throw Ranges.OutOfRange(Path(name), min, max, integer < min, value.GetRawText());
        return (long)integer;
    }

    public ulong? UnsignedInteger(string name)
    {
        if (Get(name) is not { } value)
            return null;
        if (value.ValueKind != JsonValueKind.Number)
            throw WrongType(name, "a non-negative integer", value);
        if (JsonInteger.Read(value) is { } integer && integer >= 0 && integer <= ulong.MaxValue)
            return (ulong)integer;
        throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be an integer from 0 to {ulong.MaxValue}; got {value.GetRawText()}.");
    }

    public double? Number(string name)
    {
        if (Get(name) is not { } value)
            return null;
        if (value.ValueKind != JsonValueKind.Number)
            throw WrongType(name, "a number", value);
        // A literal beyond double's range (1e400) reads as infinity.
        var number = value.GetDouble();
        return double.IsFinite(number)
            ? number
            : throw ApiException.Invalid(Path(name), $"'{Path(name)}' must be a finite number; got {value.GetRawText()}.");
    }

    /// <summary>A string or an array of strings (OpenAI's <c>prompt</c> and <c>stop</c>).</summary>
    public IReadOnlyList<string>? StringOrStrings(string name)
    {
        if (Get(name) is not { } value)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return [value.GetString()!];
        if (value.ValueKind != JsonValueKind.Array)
            throw WrongType(name, "a string or an array of strings", value);
        var items = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw ApiException.Invalid(Path(name), $"'{Path(name)}[{index}]' must be a string, not {JsonBody.Describe(item)}.");
            items.Add(item.GetString()!);
            index++;
        }
        return items;
    }

    /// <summary>The raw value of a field this server accepts only with its neutral value.</summary>
    public JsonElement? Raw(string name) => Get(name);

    /// <summary>The names of the fields no accessor asked for, except those set to null: a null is how some clients write
    /// "not set" for every parameter they know of, and it asks for nothing, as an absent field (which every accessor
    /// takes it for).</summary>
    public IReadOnlyList<string> Unknown() =>
        body.EnumerateObject().Where(property => property.Value.ValueKind != JsonValueKind.Null && !_known.Contains(property.Name))
            .Select(property => property.Name).ToList();

    /// <summary>Rejects fields that no accessor asked for, so a misspelt parameter is not silently ignored.</summary>
    public void RejectUnknown()
    {
        if (Unknown() is [var first, ..])
            throw ApiException.Invalid(Path(first), $"Unrecognized request field '{Path(first)}'.");
    }

    ApiException WrongType(string name, string expected, JsonElement value) =>
        ApiException.Invalid(Path(name), $"'{Path(name)}' must be {expected}, not {JsonBody.Describe(value)}.");
}
