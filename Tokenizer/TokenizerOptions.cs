namespace GptjAspire.Tokenizer;

/// <summary>How <see cref="BpeTokenizer"/> prepares text before tokenizing it.</summary>
public sealed class TokenizerOptions
{
    /// <summary>Normalize input to NFC first, so decomposed Vietnamese (e.g. from macOS or some keyboards) tokenizes like its precomposed form.</summary>
    public bool NormalizeToNfc { get; set; } = true;
}
