namespace GptjAspire.Gateway.Security;

/// <summary>Where a request carries its API key: OpenAI's <c>Authorization: Bearer</c>, or Azure OpenAI's <c>api-key</c>, or <c>x-api-key</c>.</summary>
public static class ApiKeyHeaders
{
    public const string ApiKey = "api-key";
    public const string XApiKey = "x-api-key";
    const string BearerPrefix = "Bearer ";

    /// <summary>The presented key, or null when the request carries none.</summary>
    public static string? Find(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        // RFC 9110 §11.1: the scheme name is case-insensitive.
        if (authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            return authorization[BearerPrefix.Length..].Trim();
        foreach (var header in (ReadOnlySpan<string>)[ApiKey, XApiKey])
        {
            var value = request.Headers[header].ToString();
            if (value.Length > 0)
                return value.Trim();
        }
        return null;
    }
}
