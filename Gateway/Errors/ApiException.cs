namespace GptjAspire.Gateway.Errors;

/// <summary>A request failure with its kind, the offending field (if any) and a message meant for the caller.</summary>
public sealed class ApiException(ApiErrorKind kind, string message, string? param = null) : Exception(message)
{
    public ApiErrorKind Kind { get; } = kind;

    /// <summary>The request field the error is about, named as the caller spelled it (OpenAI's <c>param</c>).</summary>
    public string? Param { get; } = param;

    public static ApiException Invalid(string? param, string message) => new(ApiErrorKind.InvalidRequest, message, param);
}
