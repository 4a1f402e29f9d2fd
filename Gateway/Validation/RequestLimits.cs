using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Validation;

/// <summary>What one request may ask for: the served model's name and limits (from <see cref="ServedModel"/>) and the Gateway's own
/// prompts-per-request limit. A model limit of 0 was not stated by the Preprocessor and is left to it to check.</summary>
public sealed record RequestLimits(string ModelName, int MaxPrompts, int MaxSamples, int MaxStopSequences, int MaxNewTokens)
{
    public static RequestLimits From(ModelInfo model, GatewayOptions options) =>
        new(model.Name, options.MaxPrompts, model.MaxSamples, model.MaxStopSequences, model.MaxNewTokens);

    /// <summary>Upper bound for a check: the limit, or no bound when the Preprocessor did not state it.</summary>
    public static long OrUnbounded(int limit) => limit > 0 ? limit : int.MaxValue;
}
