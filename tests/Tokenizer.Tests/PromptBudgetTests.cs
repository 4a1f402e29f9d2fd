using GptjAspire.Tokenizer;

namespace GptjAspire.Tokenizer.Tests;

public sealed class PromptBudgetTests
{
    [Fact]
    public void Prompt_that_fits_is_returned_unchanged()
    {
        int[] ids = [1, 2, 3];
        Assert.Same(ids, PromptBudget.Fit(ids, 3, TruncationMode.Reject));
    }

    [Fact]
    public void KeepEnd_drops_the_oldest_tokens()
    {
        Assert.Equal([4, 5], PromptBudget.Fit([1, 2, 3, 4, 5], 2, TruncationMode.KeepEnd));
    }

    [Fact]
    public void Reject_reports_the_prompt_length_and_the_limit()
    {
        var error = Assert.Throws<PromptTooLongException>(() => PromptBudget.Fit([1, 2, 3, 4, 5], 2, TruncationMode.Reject));
        Assert.Equal(5, error.TokenCount);
        Assert.Equal(2, error.MaxPromptTokens);
        Assert.Contains("5 tokens", error.Message);
    }
}
