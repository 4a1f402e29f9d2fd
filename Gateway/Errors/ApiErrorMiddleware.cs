namespace GptjAspire.Gateway.Errors;

/// <summary>Turns an <see cref="ApiException"/> thrown anywhere in a request into its error response, and nothing else into a stack trace.</summary>
public sealed class ApiErrorMiddleware(RequestDelegate next, ILogger<ApiErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            logger.LogInformation("{Method} {Path} rejected: {Kind} {Param}: {Message}",
                context.Request.Method, context.Request.Path, e.Kind, e.Param, e.Message);
            await e.ToResult().ExecuteAsync(context);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Kestrel's own checks (e.g. its body size limit, a malformed chunked body) arrive as this.
            var kind = e.StatusCode == StatusCodes.Status413PayloadTooLarge ? ApiErrorKind.PayloadTooLarge : ApiErrorKind.InvalidRequest;
            await new ApiException(kind, e.Message).ToResult().ExecuteAsync(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client disconnected; the generation behind it was cancelled through the same token.
            logger.LogInformation("{Method} {Path} cancelled by the client", context.Request.Method, context.Request.Path);
        }
    }
}
