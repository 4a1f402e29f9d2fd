using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Metrics;
using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gateway.RateLimiting;
using GptjAspire.Gateway.Validation;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Predict;

/// <summary>The original service's API: <c>POST /predict</c> and <c>GET /healthz</c>.</summary>
public static class PredictEndpoints
{
    public static IEndpointRouteBuilder MapPredict(this IEndpointRouteBuilder app)
    {
        app.MapPost("/predict", PredictAsync)
            .WithSummary("Samples n_samples continuations of text; each returned text starts with the prompt.")
            .Accepts<PredictRequest>("application/json")
            .Produces<PredictResponse>()
            .ProducesErrors()
            .WithGenerationMetrics("text_completion");
        app.MapGet("/healthz", HealthzAsync)
            .WithSummary("200 {\"status\":\"ok\"} once the model can serve, 503 before.")
            .AllowAnonymous()
            .DisableRateLimiting();
        return app;
    }

    static async Task<IResult> PredictAsync(
        HttpContext http, PreprocessorClient preprocessor, AdmissionQueue queue, IOptions<GatewayOptions> options,
        ServedModel model, ILogger<PredictRequest> logger)
    {
        var limits = options.Value;
        var body = await JsonBody.ReadObjectAsync(http.Request, limits.MaxRequestBodyBytes, http.RequestAborted);
        var request = PredictRequest.Parse(body, await model.GetAsync(http.RequestAborted), logger);
        var charge = http.ChargeGeneratedTokens((long)request.NSamples * limits.PredictMaxLength, "n_samples");
        try
        {
            using var admission = await queue.EnterAsync(RequestWork.ForPredict(request.NSamples, limits.PredictMaxLength), http.RequestAborted);
            var response = await preprocessor.GenerateAsync(request.ToGenerateRequest(limits), PredictRequest.FieldNames, http.RequestAborted);
            admission.Completed();
            return Results.Ok(new PredictResponse(response.Completions.OrderBy(c => c.Index).Select(c => c.Text).ToList()));
        }
        catch (ApiException failure)
        {
            charge.RefundIfRefused(failure);
            throw;
        }
    }

    static async Task<IResult> HealthzAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(check => check.Name == PreprocessorHealthCheck.Name, cancellationToken);
        return report.Status == HealthStatus.Healthy
            ? Results.Ok(new { status = "ok" })
            : Results.Json(new { status = "unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
