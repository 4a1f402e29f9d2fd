using System.Diagnostics;
using GptjAspire.Gateway.Metrics;

namespace GptjAspire.Gateway.Errors;

/// <summary>Records a failed request in the log and on the request's trace span, where <see cref="ApiException.Detail"/> goes instead of the response.</summary>
public static class ApiErrorLog
{
    public static void Record(ILogger logger, HttpRequest request, ApiException error)
    {
        request.HttpContext.RequestServices.GetRequiredService<GatewayMetrics>().Error(request.HttpContext, error.Kind);
        var status = ApiErrorMapping.StatusCode(error.Kind);
        if (status < StatusCodes.Status500InternalServerError)
        {
            logger.LogInformation("{Method} {Path} rejected: {Kind} {Param}: {Message}",
                request.Method, request.Path, error.Kind, error.Param, error.Detail ?? error.Message);
            return;
        }
        logger.LogWarning(error.InnerException, "{Method} {Path} failed: {Kind}: {Detail}",
            request.Method, request.Path, error.Kind, error.Detail ?? error.Message);
        if (Activity.Current is { } span)
        {
            // OpenTelemetry semantic conventions: error.type on the span, the description with the status.
            span.SetTag("error.type", error.Kind.ToString());
            span.SetStatus(ActivityStatusCode.Error, error.Detail ?? error.Message);
        }
    }
}
