using System.Text.RegularExpressions;
using Grpc.Core;

namespace GptjAspire.Gateway.Errors;

/// <summary>The one place where error kinds become HTTP statuses and gRPC statuses become error kinds.</summary>
public static class ApiErrorMapping
{
    /// <summary>Seconds a client should wait before retrying after 429/503.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>Trailer in which the Preprocessor names the request field an INVALID_ARGUMENT is about.</summary>
    public const string FieldTrailer = "gptj-field";

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
        ApiErrorKind.Overloaded or ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited => StatusCodes.Status429TooManyRequests,
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
        ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited => "rate_limit_exceeded",
        ApiErrorKind.Overloaded => "overloaded",
        ApiErrorKind.Unavailable => "unavailable",
        ApiErrorKind.Timeout => "timeout",
        ApiErrorKind.Internal => "internal_error",
        _ => "upstream_error",
    };

    public static bool HasRetryAfter(ApiErrorKind kind) =>
        kind is ApiErrorKind.Overloaded or ApiErrorKind.Unavailable or ApiErrorKind.RequestRateLimited or ApiErrorKind.TokenRateLimited;

    public static ErrorResponse Body(ApiException error) =>
        new(new ErrorBody(error.Message, Type(error.Kind), error.Param, Code(error.Kind)));

    /// <summary>Translates a failed Preprocessor call; <paramref name="fieldNames"/> renames its fields to the caller's API.</summary>
    public static ApiException FromRpc(RpcException error, IReadOnlyDictionary<string, string> fieldNames)
    {
        var detail = string.IsNullOrEmpty(error.Status.Detail) ? error.StatusCode.ToString() : error.Status.Detail;
        return error.StatusCode switch
        {
            Grpc.Core.StatusCode.InvalidArgument or Grpc.Core.StatusCode.OutOfRange =>
                ApiException.Invalid(Field(error, fieldNames), Rename(detail, fieldNames)),
            // Anything else is not the caller's to fix: a stable message for them, the status text (which can name
            // hosts, ports and exception types) only for the log and the trace.
            Grpc.Core.StatusCode.ResourceExhausted => Stable(ApiErrorKind.Overloaded, error),
            Grpc.Core.StatusCode.Unavailable => Stable(ApiErrorKind.Unavailable, error),
            Grpc.Core.StatusCode.DeadlineExceeded => Stable(ApiErrorKind.Timeout, error),
            Grpc.Core.StatusCode.NotFound => new(ApiErrorKind.ModelNotFound, "The requested model is not served here.", "model", $"NotFound: {detail}"),
            _ => Stable(ApiErrorKind.UpstreamFailure, error),
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

    static ApiException Stable(ApiErrorKind kind, RpcException error) =>
        new(kind, StableMessage(kind), detail: $"{error.StatusCode}: {error.Status.Detail}");

    static string? Field(RpcException error, IReadOnlyDictionary<string, string> fieldNames)
    {
        var field = error.Trailers.GetValue(FieldTrailer);
        return field is null ? null : fieldNames.GetValueOrDefault(field, field);
    }

    // The Preprocessor's messages name its own fields (e.g. max_new_tokens); say them in the caller's words,
    // replacing whole words only ("n" is a field, the n in "tokens" is not).
    static string Rename(string detail, IReadOnlyDictionary<string, string> fieldNames)
    {
        foreach (var (inner, outer) in fieldNames)
            detail = Regex.Replace(detail, $@"(?<![\w]){Regex.Escape(inner)}(?![\w])", outer, RegexOptions.CultureInvariant);
        return detail;
    }
}
