using System.Text;
using GptjAspire.Tokenizer;

namespace GptjAspire.Tokenizer.Tests;

/// <summary>Our tokenizer against Hugging Face tokenizers' own outputs for every committed fixture.</summary>
public sealed class ParityTests
{
    private const int ReportedMismatches = 5;

    [Theory]
    [MemberData(nameof(ParityFixtures.Vocabularies), MemberType = typeof(ParityFixtures))]
    public void Encode_matches_Hugging_Face_for_every_fixture(string vocab)
    {
        var tokenizer = ParityFixtures.Tokenizer(vocab);
        var cases = ParityFixtures.CasesFor(vocab);
        AssertAll(cases, x =>
        {
            var actual = tokenizer.Encode(x.Case.Text);
            return actual.AsSpan().SequenceEqual(x.Expected.Ids) ? null : $"{Describe(x.Case)}: ids differ at {FirstDifference(actual, x.Expected.Ids)}";
        });
        Assert.True(cases.Count >= 5000, $"only {cases.Count} fixtures");
    }

    [Theory]
    [MemberData(nameof(ParityFixtures.Vocabularies), MemberType = typeof(ParityFixtures))]
    public void Encode_with_nfc_matches_Hugging_Face_on_the_nfc_form(string vocab)
    {
        var tokenizer = ParityFixtures.Tokenizer(vocab, normalizeToNfc: true);
        var cases = ParityFixtures.CasesFor(vocab);
        var decomposed = cases.Count(x => x.Expected.NfcIds is not null);
        AssertAll(cases, x =>
        {
            var expected = x.Expected.NfcIds ?? x.Expected.Ids;
            return tokenizer.Encode(x.Case.Text).AsSpan().SequenceEqual(expected) ? null : $"{Describe(x.Case)}: NFC ids differ";
        });
        Assert.True(decomposed >= 600, $"only {decomposed} fixtures change under NFC");
    }

    [Theory]
    [MemberData(nameof(ParityFixtures.Vocabularies), MemberType = typeof(ParityFixtures))]
    public void Decode_matches_Hugging_Face_for_every_fixture(string vocab)
    {
        var tokenizer = ParityFixtures.Tokenizer(vocab);
        AssertAll(ParityFixtures.CasesFor(vocab), x =>
        {
            var decoded = x.Expected.Decoded ?? x.Case.Text;
            var skipped = x.Expected.DecodedSkipSpecial ?? decoded;
            return tokenizer.Decode(x.Expected.Ids) != decoded ? $"{Describe(x.Case)}: decoded text differs"
                : tokenizer.Decode(x.Expected.Ids, skipSpecialTokens: true) != skipped ? $"{Describe(x.Case)}: decoded text without special tokens differs"
                : null;
        });
    }

    [Theory]
    [MemberData(nameof(ParityFixtures.Vocabularies), MemberType = typeof(ParityFixtures))]
    public void Decode_of_arbitrary_ids_matches_Hugging_Face(string vocab)
    {
        var tokenizer = ParityFixtures.Tokenizer(vocab);
        var cases = ParityFixtures.DecodeCases(vocab);
        AssertAll(cases, c =>
            tokenizer.Decode(c.Ids) != c.Text ? $"[{string.Join(',', c.Ids)}]: decoded text differs"
            : tokenizer.Decode(c.Ids, skipSpecialTokens: true) != c.SkipSpecial ? $"[{string.Join(',', c.Ids)}]: skip-special text differs"
            : null);
        Assert.Contains(cases, c => c.Text.Contains('\uFFFD'));
    }

    [Theory]
    [MemberData(nameof(ParityFixtures.Vocabularies), MemberType = typeof(ParityFixtures))]
    public void Incremental_decoding_concatenates_to_Decode_for_every_fixture(string vocab)
    {
        var tokenizer = ParityFixtures.Tokenizer(vocab);
        var sequences = ParityFixtures.CasesFor(vocab).Select(x => (Label: Describe(x.Case), x.Expected.Ids))
            .Concat(ParityFixtures.DecodeCases(vocab).Select(c => (Label: $"[{string.Join(',', c.Ids)}]", c.Ids)));
        AssertAll(sequences.ToList(), s =>
        {
            foreach (var skip in new[] { false, true })
            {
                var decoder = tokenizer.CreateIncrementalDecoder(skip);
                var streamed = new StringBuilder();
                foreach (var id in s.Ids)
                {
                    streamed.Append(decoder.Append(id));
                }
                streamed.Append(decoder.Flush());
                if (streamed.ToString() != tokenizer.Decode(s.Ids, skip))
                {
                    return $"{s.Label}: streamed text differs from Decode (skipSpecialTokens={skip})";
                }
            }
            return null;
        });
    }

    private static void AssertAll<T>(IReadOnlyList<T> items, Func<T, string?> check)
    {
        var failures = items.Select(check).OfType<string>().ToList();
        Assert.True(failures.Count == 0,
            $"{failures.Count} of {items.Count} fixtures fail; first: {string.Join(" | ", failures.Take(ReportedMismatches))}");
    }

    private static string Describe(ParityFixtures.Case c) =>
        $"{c.Kind} \"{(c.Text.Length > 40 ? c.Text[..40] + "…" : c.Text).ReplaceLineEndings("\\n")}\"";

    private static string FirstDifference(int[] actual, int[] expected)
    {
        var i = 0;
        while (i < actual.Length && i < expected.Length && actual[i] == expected[i])
        {
            i++;
        }
        return $"index {i} (ours {(i < actual.Length ? actual[i] : "end")}, HF {(i < expected.Length ? expected[i] : "end")}; lengths {actual.Length}/{expected.Length})";
    }
}
