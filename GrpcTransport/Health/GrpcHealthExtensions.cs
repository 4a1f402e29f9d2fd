using GptjAspire.GrpcTransport.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.GrpcTransport;

/// <summary>Registration and mapping of the grpc.health.v1.Health service.</summary>
public static class GrpcHealthExtensions
{
    public static IServiceCollection AddGrpcHealth(this IServiceCollection services)
    {
        services.AddSingleton<GrpcHealthStatus>();
        services.AddSingleton<HealthService>();
        return services;
    }

    public static IEndpointConventionBuilder MapGrpcHealthService(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGrpcService<HealthService>(HealthService.Bind);
}
