using System.Globalization;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>Range checks whose errors state the field, the allowed range and the value received.</summary>
public static class Ranges
{
    /// <summary>The refusal of an integer below <paramref name="min"/> (<paramref name="belowMin"/>) or above <paramref name="max"/>,
    /// showing it as the client wrote it (<paramref name="sent"/>), however large.</summary>
    public static ApiException OutOfRange(string name, long min, long max, bool belowMin, string sent) =>
        // int.MaxValue stands for "no limit of ours", which goes unsaid unless the value is beyond it.
        ApiException.Invalid(name, belowMin && max == int.MaxValue
            ? $"'{name}' must be at least {min}; got {sent}."
            : $"'{name}' must be between {min} and {max}; got {sent}.");

    /// <summary>A probability mass in (0, 1], as nucleus sampling needs, narrowed to the float32 it travels as.</summary>
    /// <remarks>A mass below float32's smallest (1e-300, say) becomes that smallest, not 0: every such mass keeps only the most
    /// probable token, as it does in Hugging Face and vLLM, whereas 0 would be refused further on.</remarks>
    public static float Probability(string name, double value)
    {
        if (!(value > 0 && value <= 1))
            throw ApiException.Invalid(name, $"'{name}' must be greater than 0 and at most 1; got {Format(value)}.");
        return Math.Max((float)value, float.Epsilon);
    }

    public static void Check(string name, double value, double min, double max, bool minExclusive = false)
    {
        var belowMin = minExclusive ? value <= min : value < min;
        if (belowMin || value > max || double.IsNaN(value))
            throw ApiException.Invalid(name,
                $"'{name}' must be {(minExclusive ? "greater than" : "at least")} {Format(min)} and at most {Format(max)}; got {Format(value)}.");
    }

    static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
