namespace GptjAspire.Gateway.Errors;

/// <summary>Writes an <see cref="ApiException"/> as the HTTP response: status, Retry-After where due, OpenAI error body.</summary>
public static class ApiErrorResults
{
    public static IResult ToResult(this ApiException error)
    {
        var result = Results.Json(ApiErrorMapping.Body(error), statusCode: ApiErrorMapping.StatusCode(error.Kind));
        if (!ApiErrorMapping.HasRetryAfter(error.Kind))
            return result;
        // Retry-After is whole seconds (RFC 9110 §10.2.3): round up, so a client that waits that long gets through.
        var seconds = error.RetryAfter is { } wait ? (long)Math.Ceiling(wait.TotalSeconds) : ApiErrorMapping.RetryAfterSeconds;
        return new WithRetryAfter(result, Math.Max(seconds, 1));
    }

    sealed class WithRetryAfter(IResult inner, long seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
