using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Fails while the generation loop is wedged or dead (tagged "live": /alive fails and the liveness probe restarts the process; /health and gRPC health, which read every check, report not serving).</summary>
/// <remarks>Healthy while the model loads: a loading server is alive, and <see cref="ModelHealthCheck"/> keeps it out of rotation.</remarks>
public sealed class GenerationLivenessCheck(ModelHost host) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(host.Loaded?.Scheduler.Stall is { } stall
            ? HealthCheckResult.Unhealthy(stall.Describe())
            : HealthCheckResult.Healthy("The generation loop is making progress or idle."));
}
