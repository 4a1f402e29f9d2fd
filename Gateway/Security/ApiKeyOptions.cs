using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Security;

/// <summary>The API keys callers must present, bound from section <c>Gateway</c>: listed (<c>Gateway__ApiKeys__0</c>, ...) and/or read from a file.</summary>
public sealed class ApiKeyOptions
{
    public const string Section = "Gateway";

    /// <summary>Keys given directly in configuration.</summary>
    public IReadOnlyList<string> ApiKeys { get; set; } = [];

    /// <summary>A file with one key per line (e.g. a mounted Kubernetes Secret); blank lines and lines starting with # are ignored.</summary>
    public string? ApiKeysFile { get; set; }

    /// <summary>Every configured key: the listed ones, then the file's.</summary>
    public IReadOnlyList<string> AllKeys() =>
        [.. ApiKeys, .. string.IsNullOrEmpty(ApiKeysFile) ? [] : File.ReadLines(ApiKeysFile).Select(line => line.Trim()).Where(IsKeyLine)];

    static bool IsKeyLine(string line) => line.Length > 0 && !line.StartsWith('#');

    /// <summary>Stops the Gateway at startup, naming the setting, when a key is blank or the key file cannot be read.</summary>
    public sealed class Validator : IValidateOptions<ApiKeyOptions>
    {
        public ValidateOptionsResult Validate(string? name, ApiKeyOptions options)
        {
            if (options.ApiKeys.Any(string.IsNullOrWhiteSpace))
                return ValidateOptionsResult.Fail($"{Section}:ApiKeys: a key is empty.");
            if (options.ApiKeys.Any(key => key.Trim() != key))
                return ValidateOptionsResult.Fail($"{Section}:ApiKeys: a key starts or ends with white space, which no header can carry.");
            if (string.IsNullOrEmpty(options.ApiKeysFile))
                return ValidateOptionsResult.Success;
            try
            {
                return File.ReadLines(options.ApiKeysFile).Any(line => IsKeyLine(line.Trim()))
                    ? ValidateOptionsResult.Success
                    : ValidateOptionsResult.Fail($"{Section}:ApiKeysFile: '{options.ApiKeysFile}' holds no key (one per line).");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return ValidateOptionsResult.Fail($"{Section}:ApiKeysFile: '{options.ApiKeysFile}' cannot be read: {e.Message}");
            }
        }
    }
}
