using System.Globalization;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.Preprocessor.Backend;

/// <summary>The limits a backend's model configuration states as parameters (<see cref="GenerationContract.ContextLengthParameter"/> and
/// its siblings); null where the configuration does not say.</summary>
/// <param name="KvCacheSharesPrompt">The samples of a request share its prompt's KV-cache positions (false where unsaid).</param>
public sealed record BackendLimits(int? ContextLength, int? MaxSequences, int? MaxPromptTokens, int? KvCacheTokens = null, bool KvCacheSharesPrompt = false)
{
    public static readonly BackendLimits None = new(null, null, null);

    /// <summary>Reads the parameters; one that is not a positive integer (or a flag not "true" or "false") is a misconfigured
    /// backend, reported with its name.</summary>
    public static BackendLimits From(ModelConfig config) => new(
        Read(config, GenerationContract.ContextLengthParameter),
        Read(config, GenerationContract.MaxNumSequencesParameter),
        Read(config, GenerationContract.MaxInputLenParameter),
        Read(config, GenerationContract.MaxTokensInKvCacheParameter),
        Flag(config, GenerationContract.KvCacheSharesPromptParameter));

    static bool Flag(ModelConfig config, string name)
    {
        if (!config.Parameters.TryGetValue(name, out var parameter))
            return false;
        return bool.TryParse(parameter.StringValue, out var value)
            ? value
            : throw new InvalidBackendConfigException(
                $"model '{config.Name}' has parameter '{name}' = '{parameter.StringValue}'; it must be true or false.");
    }

    static int? Read(ModelConfig config, string name)
    {
        if (!config.Parameters.TryGetValue(name, out var parameter))
            return null;
        return int.TryParse(parameter.StringValue, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidBackendConfigException(
                $"model '{config.Name}' has parameter '{name}' = '{parameter.StringValue}'; it must be a positive integer.");
    }
}

/// <summary>The backend's model configuration states something the Preprocessor cannot serve with.</summary>
public sealed class InvalidBackendConfigException(string message) : Exception(message);
