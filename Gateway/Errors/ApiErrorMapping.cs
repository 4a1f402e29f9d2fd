using GptjAspire.Gptj.V1;
using Grpc.Core;

namespace GptjAspire.Gateway.Errors;

/// <summary>The one place where error kinds become HTTP statuses and gRPC statuses become error kinds.</summary>
public static class ApiErrorMapping
{
    /// <summary>Seconds a client should wait before retrying after 429/503.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>OpenAI's <c>code</c> for a prompt that, with the tokens asked for, does not fit the model's context.</summary>
    public const string ContextLengthExceededCode = "context_length_exceeded";

    public static int StatusCode(ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.InvalidRequest or ApiErrorKind.MalformedHttp => StatusCodes.Status400BadRequest,
        ApiErrorKind.UriTooLong => StatusCodes.Status414UriTooLong,
        ApiErrorKind.HeadersTooLarge => StatusCodes.Status431RequestHeaderFieldsTooLarge,
        ApiErrorKind.RequestTimeout => StatusCodes.Status408RequestTimeout,
        ApiErrorKind.HttpVersionNotSupported => StatusCodes.Status505HttpVersionNotsupported,
        ApiErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ApiErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ApiErrorKind.UnknownPath or ApiErrorKind.ModelNotFound => StatusCodes.Status404NotFound,
        ApiErrorKind.MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        ApiErrorKind.InvalidApiKey => StatusCodes.Status401Unauthorized,
        ApiErrorKind.Overloaded or ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited or ApiErrorKind.ConcurrencyLimited => StatusCodes.Status429TooManyRequests,
        ApiErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ApiErrorKind.Timeout => StatusCodes.Status504GatewayTimeout,
        ApiErrorKind.UpstreamFailure => StatusCodes.Status502BadGateway,
        ApiErrorKind.Internal => StatusCodes.Status500InternalServerError,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>OpenAI's <c>error.type</c> for each kind.</summary>
    public static string Type(ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.InvalidRequest or ApiErrorKind.PayloadTooLarge or ApiErrorKind.UnsupportedMediaType
            or ApiErrorKind.UnknownPath or ApiErrorKind.MethodNotAllowed or ApiErrorKind.ModelNotFound
            or ApiErrorKind.MalformedHttp or ApiErrorKind.UriTooLong or ApiErrorKind.HeadersTooLarge
            or ApiErrorKind.RequestTimeout or ApiErrorKind.HttpVersionNotSupported
            or ApiErrorKind.InvalidApiKey => "invalid_request_error",
        // OpenAI names the exhausted limit in the type of its rate_limit_exceeded errors.
        ApiErrorKind.RequestRateLimited => "requests",
        ApiErrorKind.TokenRateLimited => "tokens",
        ApiErrorKind.ConcurrencyLimited => "concurrent_requests",
        ApiErrorKind.Overloaded => "rate_limit_error",
        ApiErrorKind.Timeout => "timeout_error",
        _ => "server_error",
    };

    static string Code(ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.InvalidRequest => "invalid_value",
        ApiErrorKind.MalformedHttp => "invalid_http",
        ApiErrorKind.UriTooLong => "uri_too_long",
        ApiErrorKind.HeadersTooLarge => "headers_too_large",
        ApiErrorKind.RequestTimeout => "request_timeout",
        ApiErrorKind.HttpVersionNotSupported => "http_version_not_supported",
        ApiErrorKind.PayloadTooLarge => "payload_too_large",
        ApiErrorKind.UnsupportedMediaType => "unsupported_media_type",
        ApiErrorKind.UnknownPath => "unknown_url",
        ApiErrorKind.MethodNotAllowed => "method_not_allowed",
        ApiErrorKind.ModelNotFound => "model_not_found",
        ApiErrorKind.InvalidApiKey => "invalid_api_key",
        ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited or ApiErrorKind.ConcurrencyLimited => "rate_limit_exceeded",
        ApiErrorKind.Overloaded => "overloaded",
        ApiErrorKind.Unavailable => "unavailable",
        ApiErrorKind.Timeout => "timeout",
        ApiErrorKind.Internal => "internal_error",
        _ => "upstream_error",
    };

    public static bool HasRetryAfter(ApiErrorKind kind) =>
        kind is ApiErrorKind.Overloaded or ApiErrorKind.Unavailable or ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited
            or ApiErrorKind.ConcurrencyLimited;

    public static ErrorResponse Body(ApiException error) =>
        new(new ErrorBody(error.Message, Type(error.Kind), error.Param, error.Code ?? Code(error.Kind)));

    /// <summary>
    /// Translates a failed Preprocessor call by its status code and its <c>google.rpc.Status</c> details, never its text:
    /// a <c>BadRequest</c> field violation names the Preprocessor's field, which <paramref name="fieldNames"/> renames to
    /// the caller's API (names it lacks are the same in both); the <c>ErrorInfo</c> reason picks the <c>code</c> where
    /// OpenAI has one; <c>RetryInfo</c> becomes Retry-After.
    /// </summary>
    public static ApiException FromRpc(RpcException error, IReadOnlyDictionary<string, string> fieldNames)
    {
        var details = PreprocessorErrorDetails.Read(error);
        return error.StatusCode switch
        {
            // Only the caller's own mistakes carry their text through: it describes their request, in words true for every API.
            Grpc.Core.StatusCode.InvalidArgument or Grpc.Core.StatusCode.OutOfRange =>
                new ApiException(ApiErrorKind.InvalidRequest, error.Status.Detail, details.Field is { } field ? fieldNames.GetValueOrDefault(field, field) : null)
                {
                    Code = details.Reason == ErrorReason.ContextLengthExceeded ? ContextLengthExceededCode : null,
                },
            // Anything else is not the caller's to fix: a stable message for them, the status text (which can name
            // hosts, ports and exception types) only for the log and the trace.
            Grpc.Core.StatusCode.ResourceExhausted => Stable(ApiErrorKind.Overloaded, error, details),
            Grpc.Core.StatusCode.Unavailable => Stable(ApiErrorKind.Unavailable, error, details),
            Grpc.Core.StatusCode.DeadlineExceeded => Stable(ApiErrorKind.Timeout, error, details),
            Grpc.Core.StatusCode.NotFound => new(ApiErrorKind.ModelNotFound, "The requested model is not served here.", "model", Describe(error, details)),
            _ => Stable(ApiErrorKind.UpstreamFailure, error, details),
        };
    }

    /// <summary>The message a caller gets for a failure that is not theirs, whatever caused it.</summary>
    public static string StableMessage(ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.Overloaded => "The server is busy; retry later.",
        ApiErrorKind.Unavailable => "The model is not available right now; retry later.",
        ApiErrorKind.Timeout => "The generation did not finish within its deadline.",
        ApiErrorKind.UpstreamFailure => "The model service failed to answer this request.",
        _ => "The server failed to answer this request.",
    };

    static ApiException Stable(ApiErrorKind kind, RpcException error, PreprocessorErrorDetails details) =>
        new(kind, StableMessage(kind), detail: Describe(error, details)) { RetryAfter = details.RetryDelay };

    static string Describe(RpcException error, PreprocessorErrorDetails details) =>
        details.Reason is { } reason ? $"{error.StatusCode} ({reason}): {error.Status.Detail}" : $"{error.StatusCode}: {error.Status.Detail}";
}
