using System.Globalization;
using System.Runtime.CompilerServices;

namespace GptjAspire.Tokenizer;

/// <summary>Splits text into the pieces GPT-2's pattern matches, written as a state machine over code points.</summary>
/// <remarks>
/// The pattern (HF ByteLevel pre-tokenizer, Oniguruma, leftmost alternative wins):
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.
/// <c>\s</c> is Unicode White_Space, <c>\p{L}</c> the letter categories, <c>\p{N}</c> the number categories.
/// Matches are contiguous and cover the whole input, so a piece is fully described by its end.
/// </remarks>
internal static class Gpt2PreTokenizer
{
    private const byte Other = 0, Letter = 1, Number = 2, Space = 3;

    // Classes of all BMP code points, computed once (64 KiB) so the hot loop never calls into globalization.
    private static readonly byte[] BmpClass = BuildBmpClasses();

    /// <summary>Returns the end (exclusive) of the piece that starts at <paramref name="start"/>.</summary>
    public static int NextPieceEnd(ReadOnlySpan<char> text, int start)
    {
        var length = text.Length;
        var c = text[start];

        if (c == '\'' && start + 1 < length)
        {
            var contraction = ContractionLength(text, start + 1);
            if (contraction > 0)
            {
                return start + 1 + contraction;
            }
        }

        var pos = start;
        var cls = ClassAt(text, pos, out var width);
        if (c == ' ' && start + 1 < length)
        {
            // ` ?X+`: a single space joins the run that follows when that run is a letter, number or other run.
            var nextClass = ClassAt(text, start + 1, out var nextWidth);
            if (nextClass != Space)
            {
                return RunEnd(text, start + 1 + nextWidth, nextClass);
            }
        }

        if (cls != Space)
        {
            return RunEnd(text, pos + width, cls);
        }

        // Whitespace run: `\s+(?!\S)` takes the run up to the end of text, or all but its last code point
        // when a non-space follows; a single space before a non-space falls through to `\s+` (itself).
        var end = RunEnd(text, pos + width, Space);
        if (end == length)
        {
            return end;
        }
        // White_Space code points are all in the BMP, so the last one is one char wide.
        return end - 1 > start ? end - 1 : end;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RunEnd(ReadOnlySpan<char> text, int pos, byte cls)
    {
        while (pos < text.Length)
        {
            var c = text[pos];
            if (!char.IsSurrogate(c))
            {
                if (BmpClass[c] != cls)
                {
                    break;
                }
                pos++;
            }
            else
            {
                if (ClassAt(text, pos, out var width) != cls)
                {
                    break;
                }
                pos += width;
            }
        }
        return pos;
    }

    private static int ContractionLength(ReadOnlySpan<char> text, int pos)
    {
        // Case-sensitive, as in GPT-2's pattern: 's 't 're 've 'm 'll 'd
        switch (text[pos])
        {
            case 's' or 't' or 'm' or 'd':
                return 1;
            case 'r' or 'v' when pos + 1 < text.Length && text[pos + 1] == 'e':
                return 2;
            case 'l' when pos + 1 < text.Length && text[pos + 1] == 'l':
                return 2;
            default:
                return 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ClassAt(ReadOnlySpan<char> text, int pos, out int width)
    {
        var c = text[pos];
        if (char.IsHighSurrogate(c) && pos + 1 < text.Length && char.IsLowSurrogate(text[pos + 1]))
        {
            width = 2;
            return Classify(char.ConvertToUtf32(c, text[pos + 1]));
        }
        width = 1;
        return BmpClass[c];
    }

    private static byte Classify(int codePoint)
    {
        if (IsWhiteSpace(codePoint))
        {
            return Space;
        }
        return CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
            _ => Other,
        };
    }

    /// <summary>Unicode White_Space, which is what Oniguruma's <c>\s</c> means for UTF-8 text.</summary>
    internal static bool IsWhiteSpace(int c) =>
        c is >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    private static byte[] BuildBmpClasses()
    {
        var table = new byte[65536];
        for (var c = 0; c < table.Length; c++)
        {
            // Lone surrogates never reach the splitter (input is validated first); class them as Other.
            table[c] = c is >= 0xD800 and <= 0xDFFF ? Other : Classify(c);
        }
        return table;
    }
}
