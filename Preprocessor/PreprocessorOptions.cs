namespace GptjAspire.Preprocessor;

/// <summary>Limits of the Preprocessor, bound from configuration section <c>Preprocessor</c>.</summary>
public sealed class PreprocessorOptions
{
    public const string Section = "Preprocessor";

    /// <summary>Largest n per request, sent to the backend as one request with <c>num_return_sequences</c>.</summary>
    public int MaxSamples { get; set; } = 64;
}
