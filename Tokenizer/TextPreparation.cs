
namespace GptjAspire.Tokenizer;

/// <summary>Checks text is well-formed Unicode and applies NFC when asked.</summary>
internal static class TextPreparation
{
    public static string Prepare(string text, bool normalizeToNfc)
    {
        ArgumentNullException.ThrowIfNull(text);
        var firstSurrogate = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (firstSurrogate >= 0)
        {
            ThrowOnUnpairedSurrogate(text, firstSurrogate);
        }
        return normalizeToNfc ? Nfc.Normalize(text) : text;
    }

    private static void ThrowOnUnpairedSurrogate(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw new InvalidTextException($"Text contains an unpaired UTF-16 surrogate U+{(int)c:X4}; it is not valid Unicode", i);
            }
        }
    }
}
