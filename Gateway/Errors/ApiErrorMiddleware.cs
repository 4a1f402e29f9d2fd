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
            await WriteAsync(context, e);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Kestrel's checks on the body (a malformed chunked body, its size limit, a body arriving too slowly) arrive
            // as this, with the status Kestrel would answer; its message names Kestrel's settings, so it goes to the log only.
            await WriteAsync(context, KestrelBodyErrors.From(e, context));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client disconnected; the generation behind it was cancelled through the same token.
            logger.LogInformation("{Method} {Path} cancelled by the client", context.Request.Method, context.Request.Path);
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            // A bug: the caller still gets the one error body, the exception only the log and the trace.
            await WriteAsync(context, new ApiException(ApiErrorKind.Internal, ApiErrorMapping.StableMessage(ApiErrorKind.Internal),
                detail: e.ToString()));
        }
    }

    async Task WriteAsync(HttpContext context, ApiException error)
    {
        ApiErrorLog.Record(logger, context.Request, error);
        await error.ToResult().ExecuteAsync(context);
    }
}
