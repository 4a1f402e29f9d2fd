using System.Text.Json;

namespace GptjAspire.Gateway.Validation;

/// <summary>The one rule for integers in a request: a JSON number that is exactly integral, however it is written (50, 50.0,
/// 5e1). JSON has one number type, and clients that write every number as a float send integers that way.</summary>
public static class JsonInteger
{
    /// <summary>The number's integer value, or null when it has a fraction. A number beyond decimal's range (1e300) is an
    /// integer too large for any field and reads as ±<see cref="decimal.MaxValue"/>, which every range check refuses.</summary>
    public static decimal? Read(JsonElement number)
    {
        if (number.TryGetDecimal(out var value))
            return decimal.Truncate(value) == value ? value : null;
        // Only magnitudes beyond decimal's ±7.9e28 fail to read as one, and no number that large has a fraction.
        return number.GetDouble() > 0 ? decimal.MaxValue : decimal.MinValue;
    }
}
