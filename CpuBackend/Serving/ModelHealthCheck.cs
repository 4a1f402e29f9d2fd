using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Reports the backend healthy on <c>/health</c> only once its model is loaded (not tagged "live": a loading server is alive).</summary>
public sealed class ModelHealthCheck(ModelHost host) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(host.Loaded is not null
            ? HealthCheckResult.Healthy($"Model '{host.ModelName}' is loaded.")
            : host.Failure is { } failure
                ? HealthCheckResult.Unhealthy($"Model '{host.ModelName}' failed to load: {failure}")
                : HealthCheckResult.Unhealthy($"Model '{host.ModelName}' is loading."));
}
