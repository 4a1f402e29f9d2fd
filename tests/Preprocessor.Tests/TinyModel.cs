using GptjAspire.Tokenizer;

namespace GptjAspire.Preprocessor.Tests;

/// <summary>The byte-level fixture tokenizer (Fixtures/make_tiny.py): 256 byte tokens, a few merges, end-of-text 263, context 32.</summary>
public static class TinyModel
{
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny");

    public static readonly BpeTokenizer Tokenizer = BpeTokenizer.FromDirectory(Directory);

    public const int ContextLength = 32;

    public const int EndOfText = 263;
}
