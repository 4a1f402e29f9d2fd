using GptjAspire.Gateway.Errors;
using Microsoft.Net.Http.Headers;

namespace GptjAspire.Gateway.Validation;

/// <summary>Requires <c>Content-Type: application/json</c> (UTF-8, RFC 8259 §8.1), uncompressed, on every request with a body.</summary>
/// <remarks>
/// A browser sends a cross-site request without a CORS preflight only with no Content-Type or a form / text/plain
/// one (Fetch standard, "CORS-safelisted request-header"); accepting only application/json means such a request
/// can never start a generation, whatever page sent it.
/// </remarks>
public static class JsonMediaType
{
    public const string Name = "application/json";

    public static void Require(HttpRequest request)
    {
        if (Problem(request) is { } problem)
            throw problem;
    }

    /// <summary>What is wrong with the request's Content-Type or Content-Encoding, or null when it is plain JSON in UTF-8.</summary>
    public static ApiException? Problem(HttpRequest request)
    {
        if (string.IsNullOrEmpty(request.ContentType))
            return Unsupported($"The request has no Content-Type; send the body as {Name}.");
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals(Name, StringComparison.OrdinalIgnoreCase))
            return Unsupported($"Content-Type must be {Name}, not '{request.ContentType}'.");
        if (mediaType.Charset.HasValue && !mediaType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            return Unsupported($"The JSON body must be UTF-8, not charset '{mediaType.Charset}'.");
        // Compressed request bodies are not part of OpenAI's API; read as text they would fail as "not UTF-8", which
        // hides the cause.
        if (request.Headers.ContentEncoding.ToString().Trim() is { Length: > 0 } encoding && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            return Unsupported($"Content-Encoding '{encoding}' is not supported; send the JSON body uncompressed.");
        return null;
    }

    static ApiException Unsupported(string message) => new(ApiErrorKind.UnsupportedMediaType, message);
}
