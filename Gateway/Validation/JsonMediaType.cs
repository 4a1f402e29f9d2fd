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

    // IANA's name, and "utf8", which the WHATWG Encoding Standard (browsers) and .NET's Encoding.GetEncoding accept for it too.
    static readonly string[] Utf8Names = ["utf-8", "utf8"];

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
        // A parameter value is the same quoted or not (RFC 9110 §5.6.6): charset="UTF-8" is charset=UTF-8.
        var charset = HeaderUtilities.RemoveQuotes(mediaType.Charset);
        if (charset.HasValue && !Utf8Names.Contains(charset.Value!, StringComparer.OrdinalIgnoreCase))
            return Unsupported($"The JSON body must be UTF-8, not charset '{charset}'.");
        // Compressed request bodies are not part of OpenAI's API; read as text they would fail as "not UTF-8", which
        // hides the cause.
        if (request.Headers.ContentEncoding.ToString().Trim() is { Length: > 0 } encoding && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            return Unsupported($"Content-Encoding '{encoding}' is not supported; send the JSON body uncompressed.");
        return null;
    }

    static ApiException Unsupported(string message) => new(ApiErrorKind.UnsupportedMediaType, message);
}
