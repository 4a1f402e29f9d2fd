namespace GptjAspire.Gateway.Errors;

/// <summary>Declares the error responses every generation endpoint can give, for the OpenAPI document.</summary>
public static class ErrorResponseMetadata
{
    public static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder endpoint)
    {
        foreach (var kind in Enum.GetValues<ApiErrorKind>())
            endpoint.Produces<ErrorResponse>(ApiErrorMapping.StatusCode(kind));
        return endpoint;
    }
}
