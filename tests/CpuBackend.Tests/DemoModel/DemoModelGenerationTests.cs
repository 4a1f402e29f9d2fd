using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Tests.Engine;
using GptjAspire.Tokenizer;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>The committed demo checkpoint writes Vietnamese: 64 generated tokens, decoded by our tokenizer.</summary>
public sealed class DemoModelGenerationTests
{
    private const string Prompt = "Để chèn một bảng vào tài liệu, bạn";
    private const int NewTokens = 64;

    [Fact]
    public void Greedy_64_tokens_from_a_Vietnamese_prompt_are_valid_utf8_and_mostly_Vietnamese_syllables()
    {
        var text = Continuation(out var ids);

        Assert.Equal(NewTokens, ids.Length);
        Assert.DoesNotContain('\uFFFD', text); // every completed character was well-formed UTF-8
        var words = VietnameseSyllables.Words(text);
        Assert.True(words.Count >= 20, $"only {words.Count} words in: {text}");
        Assert.True(VietnameseSyllables.Fraction(text) >= 0.8, $"{VietnameseSyllables.Fraction(text):P0} Vietnamese syllables in: {text}");
    }

    [Fact]
    public void Greedy_generation_gives_the_same_tokens_from_a_fresh_load()
    {
        Continuation(out var first);
        Continuation(out var second);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Syllable_check_accepts_Vietnamese_prose_and_rejects_English()
    {
        Assert.Equal(1.0, VietnameseSyllables.Fraction("Người bảo trì tạo ra gói phần mềm cho chương trình nghiêng"));
        Assert.True(VietnameseSyllables.Fraction("Select the cells that you want to print, then click Format") < 0.5);
        Assert.False(VietnameseSyllables.IsSyllable("bảảo")); // two tone marks
    }

    /// <summary>Greedy continuation of <see cref="Prompt"/>: the text of its completed characters, and its ids.</summary>
    private static string Continuation(out int[] ids)
    {
        var tokenizer = BpeTokenizer.FromDirectory(DemoCheckpoint.Directory);
        using var model = GptjModel.Load(DemoCheckpoint.Directory, null, NullLogger.Instance);
        ids = GptjParityTests.Greedy(model, tokenizer.Encode(Prompt), NewTokens);
        // Appended pieces are complete characters only; a character cut by the 64-token limit stays pending.
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        return string.Concat(ids.Select(decoder.Append));
    }
}
