using System.ComponentModel.DataAnnotations;

namespace GptjAspire.Gateway;

/// <summary>Limits and defaults of the public API, bound from configuration section <c>Gateway</c> and checked at startup.</summary>
/// <remarks>The model's name and its limits (samples, stop sequences, tokens, context) are not here: they come from the
/// Preprocessor's <c>GetModelInfo</c> (<see cref="ServedModel"/>).</remarks>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Largest accepted request body; larger ones get 413.</summary>
    [Range(1, long.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest number of prompts in one <c>/v1/completions</c> request.</summary>
    [Range(1, int.MaxValue)]
    public int MaxPrompts { get; set; } = 16;

    /// <summary><c>/predict</c>'s cap on prompt + generated tokens, as the original service's <c>generate(max_length=256)</c>.</summary>
    [Range(2, int.MaxValue)]
    public int PredictMaxLength { get; set; } = 256;

    /// <summary>Deadline of one generation, carried to the Preprocessor and the backend as the gRPC deadline.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
