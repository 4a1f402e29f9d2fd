using System.Buffers;
using System.Globalization;
using System.Text;

namespace GptjAspire.Tokenizer;

/// <summary>Finds added/special tokens in text and splits it around them, as HF's <c>AddedVocabulary</c> does.</summary>
/// <remarks>
/// HF matches with an Aho-Corasick automaton in leftmost-longest mode, first the tokens with <c>normalized=false</c>
/// over the raw text, then the <c>normalized=true</c> ones over what is left. A discarded <c>single_word</c> match is
/// not retried at a later start (non-overlapping iteration). <c>lstrip</c>/<c>rstrip</c> widen the match over White_Space.
/// </remarks>
internal sealed class AddedVocabulary
{
    private readonly Pass raw;
    private readonly Pass normalized;

    private readonly bool nfcBetweenRawTokens;

    /// <param name="nfcBetweenRawTokens">The tokenizer's own NFC normalizer (tokenizer.json): as in HF, the
    /// <c>normalized=false</c> tokens are found in the raw text, the text between them is normalized, and the
    /// <c>normalized=true</c> tokens, their content normalized too, are found in that.</param>
    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, bool nfcBetweenRawTokens)
    {
        Tokens = tokens;
        this.nfcBetweenRawTokens = nfcBetweenRawTokens;
        raw = new Pass(tokens.Where(t => !t.Normalized && t.Content.Length > 0).ToArray());
        normalized = new Pass(tokens.Where(t => t.Normalized && t.Content.Length > 0)
            .Select(t => nfcBetweenRawTokens ? t with { Content = Nfc.Normalize(t.Content) } : t).ToArray());
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    /// <summary>Calls <paramref name="onText"/> for each stretch of ordinary text and <paramref name="onToken"/> for each added token, in order.</summary>
    public void Split<TState>(ReadOnlySpan<char> text, ref TState state, TextHandler<TState> onText, TokenHandler<TState> onToken)
        where TState : allows ref struct
    {
        if (raw.IsEmpty && normalized.IsEmpty && !nfcBetweenRawTokens)
        {
            if (text.Length > 0)
            {
                onText(text, ref state);
            }
            return;
        }
        var start = 0;
        while (start < text.Length)
        {
            var match = raw.Find(text, start);
            var gapEnd = match.Token is null ? text.Length : match.Start;
            var gap = text[start..gapEnd];
            SplitNormalized(nfcBetweenRawTokens ? Nfc.Normalize(gap.ToString()) : gap, ref state, onText, onToken);
            if (match.Token is null)
            {
                break;
            }
            onToken(match.Token, ref state);
            start = match.End;
        }
    }

    private void SplitNormalized<TState>(ReadOnlySpan<char> text, ref TState state, TextHandler<TState> onText, TokenHandler<TState> onToken)
        where TState : allows ref struct
    {
        var start = 0;
        while (start < text.Length)
        {
            var match = normalized.Find(text, start);
            var gapEnd = match.Token is null ? text.Length : match.Start;
            if (gapEnd > start)
            {
                onText(text[start..gapEnd], ref state);
            }
            if (match.Token is null)
            {
                break;
            }
            onToken(match.Token, ref state);
            start = match.End;
        }
    }

    public delegate void TextHandler<TState>(ReadOnlySpan<char> text, ref TState state) where TState : allows ref struct;

    public delegate void TokenHandler<TState>(AddedToken token, ref TState state) where TState : allows ref struct;

    private readonly record struct Match(AddedToken? Token, int Start, int End);

    /// <summary>One matching pass over a set of tokens.</summary>
    private sealed class Pass
    {
        private readonly SearchValues<char> firstChars;
        private readonly Dictionary<char, AddedToken[]> byFirstChar;

        public Pass(AddedToken[] tokens)
        {
            IsEmpty = tokens.Length == 0;
            byFirstChar = tokens
                .GroupBy(t => t.Content[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
            firstChars = SearchValues.Create(byFirstChar.Keys.ToArray());
        }

        public bool IsEmpty { get; }

        /// <summary>The next kept match at or after <paramref name="from"/> (leftmost, then longest).</summary>
        public Match Find(ReadOnlySpan<char> text, int from)
        {
            var searchFrom = from;
            while (!IsEmpty && searchFrom < text.Length)
            {
                var offset = text[searchFrom..].IndexOfAny(firstChars);
                if (offset < 0)
                {
                    break;
                }
                var start = searchFrom + offset;
                var token = LongestAt(text, start);
                if (token is null)
                {
                    searchFrom = start + 1;
                    continue;
                }
                var end = start + token.Content.Length;
                if (token.SingleWord && (EndsWithWordChar(text[..start]) || StartsWithWordChar(text[end..])))
                {
                    searchFrom = end;
                    continue;
                }
                if (token.LeftStrip)
                {
                    while (start > from && Gpt2PreTokenizer.IsWhiteSpace(text[start - 1]))
                    {
                        start--;
                    }
                }
                if (token.RightStrip)
                {
                    while (end < text.Length && Gpt2PreTokenizer.IsWhiteSpace(text[end]))
                    {
                        end++;
                    }
                }
                return new Match(token, start, end);
            }
            return new Match(null, text.Length, text.Length);
        }

        private AddedToken? LongestAt(ReadOnlySpan<char> text, int start)
        {
            // Leftmost-longest: the earliest start wins; among tokens starting there, the longest.
            foreach (var token in byFirstChar[text[start]])
            {
                if (text[start..].StartsWith(token.Content, StringComparison.Ordinal))
                {
                    return token;
                }
            }
            return null;
        }

        // Rust regex `\w` (Unicode): Alphabetic, marks, decimal digits, connector punctuation, join controls. Alphabetic
        // holds a few symbols (Other_Alphabetic, category So) that no category below covers: the circled and squared
        // Latin letters (an exhaustive comparison with HF found exactly these).
        private static bool StartsWithWordChar(ReadOnlySpan<char> text) =>
            text.Length > 0 && Rune.DecodeFromUtf16(text, out var rune, out _) == OperationStatus.Done && IsWordChar(rune);

        private static bool EndsWithWordChar(ReadOnlySpan<char> text) =>
            text.Length > 0 && Rune.DecodeLastFromUtf16(text, out var rune, out _) == OperationStatus.Done && IsWordChar(rune);

        private static bool IsWordChar(Rune rune) => rune.Value is 0x200C or 0x200D
            or (>= 0x24B6 and <= 0x24E9) or (>= 0x1F130 and <= 0x1F149) or (>= 0x1F150 and <= 0x1F169) or (>= 0x1F170 and <= 0x1F189)
            || Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}
