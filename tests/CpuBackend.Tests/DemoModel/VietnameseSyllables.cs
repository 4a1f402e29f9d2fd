using System.Text;
using System.Text.RegularExpressions;

namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>A simple test of whether words are Vietnamese syllables: optional onset, 1–3 vowels, optional coda, at most one tone mark.</summary>
/// <remarks>The same rule as tools/corpus/build_vi_corpus.py uses to keep Vietnamese paragraphs.</remarks>
public static partial class VietnameseSyllables
{
    // Combining tone marks (grave, acute, tilde, hook above, dot below) as they appear after NFD;
    // circumflex, breve and horn belong to the vowel letter and are recomposed by NFC.
    private const string ToneMarks = "\u0300\u0301\u0303\u0309\u0323";

    [GeneratedRegex("^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?[aăâeêioôơuưy]{1,3}(ch|ng|nh|[cmnpt])?$")]
    private static partial Regex Syllable();

    [GeneratedRegex(@"\p{L}+")]
    private static partial Regex Word();

    /// <summary>The words (runs of letters) of <paramref name="text"/>.</summary>
    public static IReadOnlyList<string> Words(string text) => Word().Matches(text).Select(m => m.Value).ToList();

    public static bool IsSyllable(string word)
    {
        var decomposed = word.ToLowerInvariant().Normalize(NormalizationForm.FormD);
        var toneless = new StringBuilder(decomposed.Length);
        var tones = 0;
        foreach (var ch in decomposed)
        {
            if (ToneMarks.Contains(ch)) tones++;
            else toneless.Append(ch);
        }
        return tones <= 1 && Syllable().IsMatch(toneless.ToString().Normalize(NormalizationForm.FormC));
    }

    /// <summary>Fraction of the words of <paramref name="text"/> that are Vietnamese syllables (0 when there are no words).</summary>
    public static double Fraction(string text)
    {
        var words = Words(text);
        return words.Count == 0 ? 0 : (double)words.Count(IsSyllable) / words.Count;
    }
}
