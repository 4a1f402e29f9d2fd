using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>Top-k's threshold (<see cref="LogitsProcessors.KthLargest"/>) against a full sort, on vocabularies with ties,
/// removed (-inf) tokens and lengths that end in a partial vector, and the vector shortcuts of top-k and top-p; the HF
/// fixtures (SamplerTests) check both warpers as a whole.</summary>
public sealed class TruncationWarperTests
{
    public static TheoryData<int, int, int> Cases()
    {
        var cases = new TheoryData<int, int, int>();
        foreach (var length in new[] { 2, 7, 8, 9, 50, 1001, 50400 })
            foreach (var k in new[] { 1, 2, 3, 50, length - 1 }.Distinct())
                if (k >= 1 && k < length)
                    foreach (var seed in new[] { 1, 2 })
                        cases.Add(length, k, seed);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kth_largest_is_what_a_descending_sort_puts_at_k(int length, int k, int seed)
    {
        var random = new Random(seed * 7919 + length);
        // Few distinct values (ties across the threshold), some removed tokens, and an ascending run at the end so the
        // largest values arrive last, in the scalar tail.
        var values = Enumerable.Range(0, length).Select(i => i % 11 == 3 ? float.NegativeInfinity : (float)random.Next(-20, 20) / 4).ToArray();
        for (var i = Math.Max(0, length - 5); i < length; i++) values[i] = 10 + i - length;

        var expected = values.OrderDescending().ElementAt(k - 1);

        Assert.Equal(expected, LogitsProcessors.KthLargest(values, k));
    }

    [Fact]
    public void Top_k_keeps_every_token_tied_with_the_kth_and_removes_the_rest()
    {
        float[] logits = [1f, 3f, 2f, 3f, 2f, float.NegativeInfinity, 0.5f, 2f, 2f];

        LogitsProcessors.KeepTopK(logits, 3);

        float ninf = float.NegativeInfinity;
        Assert.Equal([ninf, 3f, 2f, 3f, 2f, ninf, ninf, 2f, 2f], logits);
    }

    // HF sorts ascending and removes every token whose cumulative probability is at most 1 - top_p: tokens far enough below
    // the maximum that their probability underflows to 0 are removed although their logits are finite. KeepTopP passes
    // over eight such tokens at a time; they must still become -inf.
    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(21)]
    public void Top_p_removes_finite_tokens_whose_probability_underflows_to_zero(int far)
    {
        float[] near = [2f, 1.5f, 0.5f];
        var logits = near.Concat(Enumerable.Repeat(-300f, far)).Concat(near).ToArray();

        LogitsProcessors.KeepTopP(logits, 0.9f);

        Assert.All(logits.Skip(near.Length).Take(far), v => Assert.Equal(float.NegativeInfinity, v));
        Assert.Equal(2f, logits[0]);
        Assert.Equal(2f, logits[near.Length + far]);
    }
}
