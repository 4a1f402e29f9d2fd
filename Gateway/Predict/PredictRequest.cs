using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;
using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Predict;

/// <summary>The original service's request: sample <c>n_samples</c> continuations of <c>text</c> with top-k/top-p.</summary>
public sealed record PredictRequest(string Text, int TopK = 50, float TopP = 0.9f, int NSamples = 10)
{
    /// <summary>The Preprocessor's field names as this endpoint calls them.</summary>
    public static readonly IReadOnlyDictionary<string, string> FieldNames = new Dictionary<string, string>
    {
        ["prompt"] = "text",
        ["n"] = "n_samples",
        ["top_k"] = "top_k",
        ["top_p"] = "top_p",
    };

    /// <remarks>Fields it does not know are ignored (logged at debug), as the original service's pydantic model did.</remarks>
    public static PredictRequest Parse(JsonElement body, ModelInfo model, ILogger logger)
    {
        var fields = new RequestFields(body);
        var text = fields.String("text");
        var topK = fields.Integer("top_k", 0, int.MaxValue) ?? 50;
        var topP = fields.Number("top_p") ?? 0.9;
        var samples = fields.Integer("n_samples", 1, RequestLimits.OrUnbounded(model.MaxSamples)) ?? 10;
        if (fields.Unknown() is { Count: > 0 } ignored && logger.IsEnabled(LogLevel.Debug))
            logger.LogDebug("/predict ignores unknown fields {Fields}", ignored);

        if (text is null)
            throw ApiException.Invalid("text", "'text' is required.");
        if (string.IsNullOrWhiteSpace(text))
            throw ApiException.Invalid("text", "'text' must not be empty.");
        var narrowedTopP = Ranges.Probability("top_p", topP);
        return new PredictRequest(text, (int)topK, narrowedTopP, (int)samples);
    }

    /// <summary>Sampling as Hugging Face's <c>generate(do_sample=True, max_length=...)</c> did, returning prompt + continuation.</summary>
    public GenerateRequest ToGenerateRequest(GatewayOptions options) => new()
    {
        Prompt = Text,
        N = NSamples,
        MaxTotalTokens = options.PredictMaxLength,
        Echo = true,
        Sampling = new SamplingParameters { TopK = TopK, TopP = TopP },
    };
}
