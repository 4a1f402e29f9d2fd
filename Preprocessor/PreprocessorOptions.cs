using System.ComponentModel.DataAnnotations;

namespace GptjAspire.Preprocessor;

/// <summary>Limits of the Preprocessor, bound from configuration section <c>Preprocessor</c>; where the backend's model configuration
/// states a tighter one, that one wins (<see cref="Generation.ModelLimits"/>).</summary>
public sealed class PreprocessorOptions
{
    public const string Section = "Preprocessor";

    /// <summary>Largest n per request, sent to the backend as one request with <c>num_return_sequences</c>.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSamples { get; set; } = 64;

    /// <summary>Most stop sequences one request may carry.</summary>
    [Range(1, int.MaxValue)]
    public int MaxStopSequences { get; set; } = 16;

    /// <summary>Most new tokens one completion may ask for; unset = whatever the context window leaves.</summary>
    [Range(1, int.MaxValue)]
    public int? MaxNewTokens { get; set; }

    /// <summary>Longest prompt in tokens; unset = the context window less one token.</summary>
    [Range(1, int.MaxValue)]
    public int? MaxPromptTokens { get; set; }
}
