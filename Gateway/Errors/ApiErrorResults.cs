namespace GptjAspire.Gateway.Errors;

/// <summary>Writes an <see cref="ApiException"/> as the HTTP response: status, Retry-After where due, OpenAI error body.</summary>
public static class ApiErrorResults
{
    public static IResult ToResult(this ApiException error)
    {
        var result = Results.Json(ApiErrorMapping.Body(error), statusCode: ApiErrorMapping.StatusCode(error.Kind));
        return ApiErrorMapping.HasRetryAfter(error.Kind) ? new WithRetryAfter(result) : result;
    }

    sealed class WithRetryAfter(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = ApiErrorMapping.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
