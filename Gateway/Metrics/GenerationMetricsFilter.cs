namespace GptjAspire.Gateway.Metrics;

/// <summary>Puts a <see cref="GenerationMeasurement"/> on every request of a generating endpoint and ends it once the response is complete.</summary>
/// <remarks>It ends after the response, not when the handler returns: an <c>ApiException</c> becomes its error response (and
/// reaches <see cref="GatewayMetrics.Error"/>, which names the failure) only in <c>ApiErrorMiddleware</c>, outside this filter.</remarks>
sealed class GenerationMetricsFilter(string operation) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var measurement = new GenerationMeasurement(http.RequestServices.GetRequiredService<GatewayMetrics>(), operation);
        http.Features.Set(measurement);
        http.Response.OnCompleted(() =>
        {
            measurement.End();
            return Task.CompletedTask;
        });
        try
        {
            return await next(context);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away: no error response, and not the server's failure either.
            measurement.Fail("cancelled");
            throw;
        }
    }
}

/// <summary>Marks an endpoint as one that generates, for <see cref="GatewayMetrics"/>.</summary>
public static class GenerationMetricsEndpoints
{
    /// <param name="operation">Its <c>gen_ai.operation.name</c>: <c>text_completion</c> or <c>chat</c>.</param>
    public static RouteHandlerBuilder WithGenerationMetrics(this RouteHandlerBuilder endpoint, string operation) =>
        endpoint.AddEndpointFilter(new GenerationMetricsFilter(operation));
}
