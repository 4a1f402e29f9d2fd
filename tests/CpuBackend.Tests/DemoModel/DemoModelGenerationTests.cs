using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;
using GptjAspire.Tokenizer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>The committed demo checkpoint writes Vietnamese: 64 sampled tokens through the engine, scheduler and tokenizer.</summary>
public sealed class DemoModelGenerationTests
{
    private const string Prompt = "Để chèn một bảng vào tài liệu, bạn";
    private const int NewTokens = 64;

    // The public API's /predict defaults (top_k 50, top_p 0.9), seeded.
    private static SamplingParameters Seeded(ulong seed) => new(TopK: 50, TopP: 0.9f, Seed: seed);

    [Fact]
    public async Task Sampled_64_tokens_from_a_Vietnamese_prompt_are_valid_utf8_and_mostly_Vietnamese_syllables()
    {
        var (ids, text) = await GenerateAsync(Seeded(7));

        Assert.Equal(NewTokens, ids.Length);
        Assert.DoesNotContain('\uFFFD', text); // every completed character was well-formed UTF-8
        var words = VietnameseSyllables.Words(text);
        Assert.True(words.Count >= 20, $"only {words.Count} words in: {text}");
        Assert.True(VietnameseSyllables.Fraction(text) >= 0.8, $"{VietnameseSyllables.Fraction(text):P0} Vietnamese syllables in: {text}");
    }

    [Fact]
    public async Task Same_seed_gives_the_same_text_and_another_seed_does_not()
    {
        var first = await GenerateAsync(Seeded(7));
        var again = await GenerateAsync(Seeded(7));
        var other = await GenerateAsync(Seeded(8));

        Assert.Equal(first.Ids, again.Ids);
        Assert.Equal(first.Text, again.Text);
        Assert.NotEqual(first.Ids, other.Ids);
    }

    [Fact]
    public void Syllable_check_accepts_Vietnamese_prose_and_rejects_English()
    {
        Assert.Equal(1.0, VietnameseSyllables.Fraction("Người bảo trì tạo ra gói phần mềm cho chương trình nghiêng"));
        Assert.True(VietnameseSyllables.Fraction("Select the cells that you want to print, then click Format") < 0.5);
        Assert.False(VietnameseSyllables.IsSyllable("bảảo")); // two tone marks
    }

    /// <summary>Continues <see cref="Prompt"/> by <see cref="NewTokens"/> tokens from a freshly loaded model: the ids, and the text of their completed characters.</summary>
    private static async Task<(int[] Ids, string Text)> GenerateAsync(SamplingParameters sampling)
    {
        var tokenizer = BpeTokenizer.FromDirectory(DemoCheckpoint.Directory);
        using var model = GptjModel.Load(DemoCheckpoint.Directory, null, NullLogger.Instance);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var scheduler = new GenerationScheduler(model, Options.Create(new GenerationOptions()),
            services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), NullLogger<GenerationScheduler>.Instance);

        var request = new GenerationRequest("demo", tokenizer.Encode(Prompt), NewTokens, NumSequences: 1, sampling,
            EndId: null, StopWords: [], BadWords: []);
        var ids = new List<int>();
        await foreach (var step in scheduler.Generate(request, CancellationToken.None))
            ids.AddRange(step.Tokens.Select(t => t.TokenId));

        // Appended pieces are complete characters only; a character cut by the 64-token limit stays pending.
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        return (ids.ToArray(), string.Concat(ids.Select(decoder.Append)));
    }
}
