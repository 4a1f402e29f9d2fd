using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GptjAspire.Preprocessor.Backend;

/// <summary>Healthy only while the backend reports the model ready: the Preprocessor is not ready without it.</summary>
public sealed class BackendHealthCheck(BackendModel backend) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = backend.State;
        return Task.FromResult(state.Ready
            ? HealthCheckResult.Healthy($"model '{backend.Name}' ready on {state.Platform}")
            : HealthCheckResult.Unhealthy(state.Detail));
    }
}
