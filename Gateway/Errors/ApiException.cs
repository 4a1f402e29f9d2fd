namespace GptjAspire.Gateway.Errors;

/// <summary>A request failure with its kind, the offending field (if any) and a message meant for the caller.</summary>
/// <param name="detail">What went wrong behind the Gateway (upstream status text, exception); logged and traced, never sent.</param>
public sealed class ApiException(ApiErrorKind kind, string message, string? param = null, string? detail = null) : Exception(message)
{
    public ApiErrorKind Kind { get; } = kind;

    /// <summary>Diagnostic text for the log and the trace only: it may name hosts, ports and exception types.</summary>
    public string? Detail { get; } = detail;

    /// <summary>The request field the error is about, named as the caller spelled it (OpenAI's <c>param</c>).</summary>
    public string? Param { get; } = param;

    /// <summary>OpenAI's <c>code</c> when more precise than the kind's (e.g. <c>context_length_exceeded</c>).</summary>
    public string? Code { get; init; }

    /// <summary>When the caller may retry, if known better than <see cref="ApiErrorMapping.RetryAfterSeconds"/> (a rate limit's refill time, the RetryInfo of the service behind).</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ApiException Invalid(string? param, string message) => new(ApiErrorKind.InvalidRequest, message, param);

    /// <summary>A request body over <paramref name="limitBytes"/>, whether the Gateway's limit or Kestrel's found it (413).</summary>
    public static ApiException BodyTooLarge(long limitBytes, string? detail = null) =>
        new(ApiErrorKind.PayloadTooLarge, $"The request body is larger than the limit of {limitBytes} bytes.", detail: detail);

    /// <summary>A request names a model other than the one served (OpenAI's 404 <c>model_not_found</c>).</summary>
    public static ApiException ModelNotFound(string requested, string served) =>
        new(ApiErrorKind.ModelNotFound, $"The model '{requested}' does not exist; this server serves '{served}'.", "model");
}
