using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>The gathering of the tokens top-k left, on which top-p, the softmax and the draw run instead of the vocabulary.</summary>
public sealed class FiniteLogitsTests
{
    // 160 tokens: a sixteenth is 10, the most that is gathered; 157-159 lie past the last whole vector of eight.
    private static readonly int[] Kept = [0, 7, 8, 31, 64, 65, 100, 150, 157, 159];

    [Fact]
    public void The_tokens_left_are_gathered_in_token_order_with_their_logits()
    {
        var logits = Logits(Kept);

        using var gathered = FiniteLogits.Gather(logits);

        Assert.Equal(Kept, gathered.Tokens.ToArray());
        Assert.Equal(Kept.Select(t => logits[t]), gathered.Values.ToArray());
    }

    [Fact]
    public void More_tokens_than_a_sixteenth_of_the_vocabulary_leave_the_whole_vocabulary_in_use()
    {
        using var gathered = FiniteLogits.Gather(Logits([.. Kept, 158]));

        Assert.Equal(-1, gathered.Count);
        Assert.True(gathered.Tokens.IsEmpty);
    }

    [Fact]
    public void A_vocabulary_with_every_token_removed_gathers_none()
    {
        using var gathered = FiniteLogits.Gather(Logits([]));

        Assert.Equal(0, gathered.Count);
    }

    [Fact]
    public void Probabilities_are_the_softmax_of_the_gathered_logits()
    {
        var logits = Logits(Kept);
        using var gathered = FiniteLogits.Gather(logits);

        var probabilities = gathered.Probabilities(out var max, out var sum).ToArray();

        Assert.Equal(Kept.Max(t => logits[t]), max);
        var exps = Kept.Select(t => Math.Exp(logits[t] - max)).ToArray();
        Assert.Equal(exps.Sum(), sum, 1e-5);
        for (var i = 0; i < Kept.Length; i++) Assert.Equal(exps[i] / exps.Sum(), probabilities[i], 1e-6);
    }

    private static float[] Logits(int[] kept)
    {
        var logits = Enumerable.Repeat(float.NegativeInfinity, 160).ToArray();
        var random = new Random(5);
        foreach (var token in kept) logits[token] = (float)(random.NextDouble() * 8 - 4);
        return logits;
    }
}
