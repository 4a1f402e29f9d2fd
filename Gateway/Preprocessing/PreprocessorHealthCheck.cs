using GptjAspire.Gateway.Errors;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GptjAspire.Gateway.Preprocessing;

/// <summary>Healthy when the Preprocessor answers and reports its model ready, so the Gateway's readiness covers the whole chain.</summary>
public sealed class PreprocessorHealthCheck(ServedModel model) : IHealthCheck
{
    public const string Name = "preprocessor";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Readiness is also when the served model's name and limits are refreshed.
            var info = await model.RefreshAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return info.Ready
                ? HealthCheckResult.Healthy($"model '{info.Name}' is ready")
                : HealthCheckResult.Unhealthy($"model '{info.Name}' is not ready");
        }
        catch (ApiException e)
        {
            return HealthCheckResult.Unhealthy($"Preprocessor unreachable: {e.Message}");
        }
    }
}
