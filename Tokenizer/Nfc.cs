using System.Text;

namespace GptjAspire.Tokenizer;

/// <summary>Unicode Normalization Form C of any text that has no unpaired surrogate.</summary>
public static class Nfc
{
    // A noncharacter, but a scalar value that well-formed text may carry.
    const char NonCharacterFffe = '\uFFFE';

    /// <remarks>.NET's normalization refuses U+FFFE with an <see cref="ArgumentException"/> ("invalid Unicode code points").
    /// NFC never acts across it (a starter that composes with nothing blocks reordering and composition on both sides),
    /// so the text between its occurrences is normalized piece by piece.</remarks>
    public static string Normalize(string text)
    {
        if (text.Contains(NonCharacterFffe))
            return string.Join(NonCharacterFffe, text.Split(NonCharacterFffe).Select(Normalize));
        return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
    }
}
