namespace GptjAspire.Gateway.Errors;

/// <summary>Every way a public API request can fail; <see cref="ApiErrorMapping"/> turns each into one HTTP status.</summary>
public enum ApiErrorKind
{
    /// <summary>Kestrel refused the request line, a header or the framing before the request reached the API.</summary>
    MalformedHttp,
    /// <summary>The request line is longer than Kestrel accepts.</summary>
    UriTooLong,
    /// <summary>The request headers are larger than Kestrel accepts.</summary>
    HeadersTooLarge,
    /// <summary>The request headers or body did not arrive within Kestrel's time limits.</summary>
    RequestTimeout,
    /// <summary>The request line names an HTTP version Kestrel does not serve.</summary>
    HttpVersionNotSupported,
    /// <summary>A field is missing, has the wrong type or is out of range; the body is not JSON or not UTF-8.</summary>
    InvalidRequest,
    /// <summary>The body exceeds the configured size limit.</summary>
    PayloadTooLarge,
    /// <summary>The body is not declared as JSON.</summary>
    UnsupportedMediaType,
    /// <summary>No endpoint has this path.</summary>
    UnknownPath,
    /// <summary>The endpoint exists but not for this HTTP method.</summary>
    MethodNotAllowed,
    /// <summary>The requested model is not the one served here.</summary>
    ModelNotFound,
    /// <summary>API keys are configured and the request carries none of them.</summary>
    InvalidApiKey,
    /// <summary>The caller (API key, or client address without keys) used up its requests per minute.</summary>
    RequestRateLimited,
    /// <summary>The caller used up its generated tokens per minute.</summary>
    TokenRateLimited,
    /// <summary>The caller already has as many requests in progress as it may.</summary>
    ConcurrencyLimited,
    /// <summary>Too many requests are queued (here or behind us); retry later.</summary>
    Overloaded,
    /// <summary>The Preprocessor or the backend is down or not ready; retry later.</summary>
    Unavailable,
    /// <summary>The generation did not finish within its deadline.</summary>
    Timeout,
    /// <summary>A service behind the Gateway failed in a way the caller cannot fix.</summary>
    UpstreamFailure,
    /// <summary>The Gateway itself failed (a bug); the details are in its log and trace, never in the response.</summary>
    Internal,
}
