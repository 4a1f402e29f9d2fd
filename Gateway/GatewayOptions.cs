namespace GptjAspire.Gateway;

/// <summary>Limits and defaults of the public API, bound from configuration section <c>Gateway</c>.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Largest accepted request body; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest <c>n</c> / <c>n_samples</c>.</summary>
    public int MaxSamples { get; set; } = 16;

    /// <summary>Largest number of prompts in one <c>/v1/completions</c> request.</summary>
    public int MaxPrompts { get; set; } = 16;

    /// <summary>Largest number of stop sequences (OpenAI allows 4).</summary>
    public int MaxStopSequences { get; set; } = 4;

    /// <summary><c>/predict</c>'s cap on prompt + generated tokens, as the original service's <c>generate(max_length=256)</c>.</summary>
    public int PredictMaxLength { get; set; } = 256;

    /// <summary>Deadline of one generation, carried to the Preprocessor and the backend as the gRPC deadline.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
