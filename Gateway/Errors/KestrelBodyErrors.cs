using Microsoft.AspNetCore.Http.Features;

namespace GptjAspire.Gateway.Errors;

/// <summary>The error a client gets for a request body Kestrel refused while the application read it: Kestrel's status, the
/// Gateway's words. Kestrel's own text names its settings ("See MinRequestBodyDataRate.") and goes to the log only.</summary>
public static class KestrelBodyErrors
{
    public static ApiException From(BadHttpRequestException error, HttpContext context) => error.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => new(ApiErrorKind.RequestTimeout, KestrelRejections.TooSlow, detail: error.Message),
        StatusCodes.Status413PayloadTooLarge => context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is { } limit
            ? ApiException.BodyTooLarge(limit, detail: error.Message)
            : new(ApiErrorKind.PayloadTooLarge, "The request body is larger than the server accepts.", detail: error.Message),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => new(ApiErrorKind.HeadersTooLarge,
            "The request's trailer fields are larger than the server accepts.", detail: error.Message),
        _ => new(ApiErrorKind.InvalidRequest,
            "The request body is malformed: its chunked transfer encoding is broken, or it ended before its declared length.", detail: error.Message),
    };
}
