using GptjAspire.Gateway.Validation;
using Microsoft.AspNetCore.Diagnostics;

namespace GptjAspire.Gateway.Errors;

/// <summary>Gives the errors routing produces on its own (unknown path, wrong method, body not declared as JSON) the same error body as every other.</summary>
public static class FrameworkErrors
{
    public static Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var request = $"{http.Request.Method} {http.Request.Path}";
        ApiException? error = http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => new(ApiErrorKind.UnknownPath, $"Unknown path: {request}."),
            StatusCodes.Status405MethodNotAllowed => new(ApiErrorKind.MethodNotAllowed, $"Method not allowed: {request}."),
            StatusCodes.Status415UnsupportedMediaType => JsonMediaType.Problem(http.Request)
                ?? new(ApiErrorKind.UnsupportedMediaType, $"Content-Type must be {JsonMediaType.Name}."),
            _ => null,
        };
        return error is null ? Task.CompletedTask : error.ToResult().ExecuteAsync(http);
    }
}
