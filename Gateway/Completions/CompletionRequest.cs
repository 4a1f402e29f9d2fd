using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;
using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Completions;

/// <summary>A checked OpenAI <c>/v1/completions</c> request (its penalties and logit bias included), plus the <c>top_k</c>, <c>repetition_penalty</c>
/// and <c>min_tokens</c> (vLLM's) extensions.</summary>
public sealed record CompletionRequest(
    string Model,
    IReadOnlyList<CompletionPrompt> Prompt,
    int MaxTokens = CompletionRequest.DefaultMaxTokens,
    double Temperature = 1,
    float TopP = 1,
    int N = 1,
    IReadOnlyList<string>? Stop = null,
    ulong? Seed = null,
    bool Stream = false,
    bool Echo = false,
    int TopK = 0,
    double RepetitionPenalty = 1,
    bool IncludeUsage = false,
    double PresencePenalty = 0,
    double FrequencyPenalty = 0,
    int MinTokens = 0,
    IReadOnlyDictionary<int, float>? LogitBias = null)
{
    /// <summary>OpenAI's default <c>max_tokens</c> for <c>/v1/completions</c>, used by every endpoint here.</summary>
    public const int DefaultMaxTokens = 16;

    /// <summary>The Preprocessor's field names as <c>/v1/completions</c> calls them.</summary>
    public static readonly IReadOnlyDictionary<string, string> TextFieldNames = new Dictionary<string, string>
    {
        ["max_new_tokens"] = "max_tokens",
        ["max_total_tokens"] = "max_tokens",
        ["prompt_ids"] = "prompt",
        ["min_new_tokens"] = "min_tokens",
    };

    /// <summary>The Preprocessor's field names as the endpoint that made this request calls them, for its errors.</summary>
    public IReadOnlyDictionary<string, string> UpstreamFieldNames { get; init; } = TextFieldNames;

    // The Preprocessor's fields that hold the prompt itself, as text or as token ids.
    static readonly string[] PromptFields = ["prompt", "prompt_ids"];

    /// <summary>The field names for the errors of prompt <paramref name="index"/>'s call: of several prompts, the one refused
    /// is named by its path (<c>prompt[1]</c>), as the Gateway's own checks name it.</summary>
    public IReadOnlyDictionary<string, string> UpstreamFieldNamesFor(int index)
    {
        if (Prompt.Count == 1)
            return UpstreamFieldNames;
        var names = new Dictionary<string, string>(UpstreamFieldNames);
        foreach (var field in PromptFields)
            names[field] = $"{UpstreamFieldNames.GetValueOrDefault(field, field)}[{index}]";
        return names;
    }

    // OpenAI parameters this server does not implement, which common clients send with their neutral value by default.
    static readonly NeutralField[] CompletionNeutral = [NeutralField.Number("best_of", 1), NeutralField.Number("logprobs", 0)];

    /// <summary>OpenAI's bound on <c>presence_penalty</c> and <c>frequency_penalty</c>, either sign.</summary>
    public const double MaxPenalty = 2;

    /// <summary>OpenAI's bound on each <c>logit_bias</c> value, either sign.</summary>
    public const double MaxLogitBias = 100;

    public static CompletionRequest Parse(JsonElement body, RequestLimits limits)
    {
        var fields = new RequestFields(body);
        var prompt = CompletionPrompt.Read(fields, "prompt");
        var maxTokens = ReadMaxTokens(fields, "max_tokens", limits);
        var echo = fields.Boolean("echo") ?? false;
        NeutralField.RequireAll(fields, CompletionNeutral);
        if (fields.Raw("suffix") is { } suffix && !(suffix.ValueKind == JsonValueKind.String && suffix.GetString() == ""))
            throw ApiException.Invalid("suffix", "'suffix' is not supported by this server.");

        return Parse(fields, limits, ("max_tokens", maxTokens), echo, () =>
        {
            if (prompt is null)
                throw ApiException.Invalid("prompt", "'prompt' is required.");
            if (prompt.Count == 0)
                throw ApiException.Invalid("prompt", "'prompt' must not be an empty array.");
            if (prompt.Count > limits.MaxPrompts)
                throw ApiException.Invalid("prompt", $"'prompt' may hold at most {limits.MaxPrompts} prompts; got {prompt.Count}.");
            for (var i = 0; i < prompt.Count; i++)
                if (prompt[i].IsEmpty)
                    throw ApiException.Invalid(prompt.Count == 1 ? "prompt" : $"prompt[{i}]", "The prompt must not be empty.");
            return prompt;
        });
    }

    /// <summary>Reads the endpoint's budget of new tokens, under whichever name it has, checked against the model's limit.</summary>
    public static long? ReadMaxTokens(RequestFields fields, string name, RequestLimits limits) =>
        fields.Integer(name, 1, RequestLimits.OrUnbounded(limits.MaxNewTokens));

    /// <summary>
    /// Reads and checks the parameters every OpenAI generation endpoint shares, once the endpoint has read its own fields
    /// (so that anything left is unknown); <paramref name="prompts"/> then checks the endpoint's input and gives the prompts.
    /// <paramref name="maxTokens"/> is the endpoint's budget as <see cref="ReadMaxTokens"/> read it.
    /// </summary>
    public static CompletionRequest Parse(
        RequestFields fields, RequestLimits limits,
        (string Name, long? Value) maxTokens, bool echo, Func<IReadOnlyList<CompletionPrompt>> prompts)
    {
        var model = fields.String("model") ?? limits.ModelName;
        var temperature = fields.Number("temperature") ?? 1;
        var topP = fields.Number("top_p") ?? 1;
        var n = fields.Integer("n", 1, RequestLimits.OrUnbounded(limits.MaxSamples)) ?? 1;
        var stop = fields.StringOrStrings("stop") ?? [];
        var seed = fields.UnsignedInteger("seed");
        var stream = fields.Boolean("stream") ?? false;
        var topK = fields.Integer("top_k", 0, int.MaxValue) ?? 0;
        var repetitionPenalty = fields.Number("repetition_penalty") ?? 1;
        var presencePenalty = fields.Number("presence_penalty") ?? 0;
        var frequencyPenalty = fields.Number("frequency_penalty") ?? 0;
        var minTokens = fields.Integer("min_tokens", 0, maxTokens.Value ?? DefaultMaxTokens) ?? 0;
        var includeUsage = StreamOptions(fields, stream);
        _ = fields.String("user");
        var logitBias = ReadLogitBias(fields);
        fields.RejectUnknown();

        var prompt = prompts();
        if (model != limits.ModelName)
            throw ApiException.ModelNotFound(model, limits.ModelName);
        Ranges.Check("temperature", temperature, 0, 2);
        var narrowedTopP = Ranges.Probability("top_p", topP);
        if (stop.Count > RequestLimits.OrUnbounded(limits.MaxStopSequences))
            throw ApiException.Invalid("stop", $"'stop' may hold at most {limits.MaxStopSequences} sequences; got {stop.Count}.");
        if (stop.Any(s => s.Length == 0))
            throw ApiException.Invalid("stop", "Stop sequences must not be empty strings.");
        Ranges.Check("repetition_penalty", repetitionPenalty, 0, 100, minExclusive: true);
        Ranges.Check("presence_penalty", presencePenalty, -MaxPenalty, MaxPenalty);
        Ranges.Check("frequency_penalty", frequencyPenalty, -MaxPenalty, MaxPenalty);

        return new CompletionRequest(model, prompt, (int)(maxTokens.Value ?? DefaultMaxTokens), temperature, narrowedTopP, (int)n, stop, seed, stream, echo,
            (int)topK, repetitionPenalty, includeUsage, presencePenalty, frequencyPenalty, (int)minTokens, logitBias);
    }

    /// <summary>OpenAI's <c>logit_bias</c>: token ids (as the object's keys) to biases in -100..100; ids beyond the vocabulary
    /// are the Preprocessor's to refuse.</summary>
    static Dictionary<int, float> ReadLogitBias(RequestFields fields)
    {
        var biases = new Dictionary<int, float>();
        if (fields.Raw("logit_bias") is not { } value)
            return biases;
        if (value.ValueKind != JsonValueKind.Object)
            throw ApiException.Invalid("logit_bias", $"'logit_bias' must be an object of token ids to biases, not {JsonBody.Describe(value)}.");
        foreach (var entry in value.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var token))
                throw ApiException.Invalid("logit_bias", $"'logit_bias' keys must be token ids (integers from 0); got '{entry.Name}'.");
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out var bias) || Math.Abs(bias) > MaxLogitBias)
                throw ApiException.Invalid("logit_bias", $"'logit_bias[{token}]' must be a number from -{MaxLogitBias} to {MaxLogitBias}; got {entry.Value.GetRawText()}.");
            biases[token] = (float)bias;
        }
        return biases;
    }

    static bool StreamOptions(RequestFields fields, bool stream)
    {
        if (fields.Raw("stream_options") is not { } options)
            return false;
        if (!stream)
            throw ApiException.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");
        if (options.ValueKind != JsonValueKind.Object)
            throw ApiException.Invalid("stream_options", $"'stream_options' must be an object, not {JsonBody.Describe(options)}.");
        var inner = new RequestFields(options, "stream_options");
        var includeUsage = inner.Boolean("include_usage") ?? false;
        inner.RejectUnknown();
        return includeUsage;
    }

    /// <summary>The Preprocessor call for one prompt. Its request id is the completion's own id (with the prompt's index
    /// when there are several), so the id a client holds finds the request in the Preprocessor's and the backend's logs.</summary>
    public GenerateRequest ToGenerateRequest(int promptIndex, string completionId)
    {
        // Temperature 0 (and anything too small to divide logits by) is greedy decoding; the Preprocessor owns that
        // boundary (GenerationContract.GreedyTemperatureBelow), so the caller's value goes through as it is.
        var sampling = new SamplingParameters { TopK = TopK, TopP = TopP, Temperature = (float)Temperature };
        if (RepetitionPenalty != 1)
            sampling.RepetitionPenalty = (float)RepetitionPenalty;
        if (Seed is { } seed)
            sampling.Seed = seed;
        if (PresencePenalty != 0)
            sampling.PresencePenalty = (float)PresencePenalty;
        if (FrequencyPenalty != 0)
            sampling.FrequencyPenalty = (float)FrequencyPenalty;
        foreach (var (token, bias) in LogitBias ?? new Dictionary<int, float>())
            sampling.LogitBias[token] = bias;
        var request = new GenerateRequest
        {
            Prompt = Prompt[promptIndex].Text,
            N = N,
            MaxNewTokens = MaxTokens,
            Echo = Echo,
            Sampling = sampling,
            RequestId = Prompt.Count == 1 ? completionId : $"{completionId}-{promptIndex}",
        };
        request.PromptIds.AddRange(Prompt[promptIndex].TokenIds);
        if (MinTokens > 0)
            request.MinNewTokens = MinTokens;
        request.Stop.AddRange(Stop ?? []);
        return request;
    }
}
