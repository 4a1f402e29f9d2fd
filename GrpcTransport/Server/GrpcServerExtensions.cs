using GptjAspire.GrpcTransport.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.GrpcTransport;

/// <summary>Registration of the gRPC server in DI and its services on endpoint routing.</summary>
public static class GrpcServerExtensions
{
    public static IServiceCollection AddGrpcTransport(this IServiceCollection services, Action<GrpcServerOptions>? configure = null)
    {
        services.AddRouting();
        var options = services.AddOptions<GrpcServerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.AddSingleton<GrpcServiceRegistry>();
        return services;
    }

    /// <summary>Maps every method the binder collects to <c>POST /service/method</c>, plus an UNIMPLEMENTED answer for other methods.</summary>
    public static IEndpointConventionBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints, Action<GrpcServiceBinder<TService>> bind)
        where TService : class
    {
        var registry = endpoints.ServiceProvider.GetService<GrpcServiceRegistry>()
            ?? throw new InvalidOperationException("Call services.AddGrpcTransport() before MapGrpcService.");
        var binder = new GrpcServiceBinder<TService>();
        bind(binder);
        var builders = new List<IEndpointConventionBuilder>();
        foreach (var (serviceName, methodName, endpoint) in binder.Methods)
        {
            var path = $"/{serviceName}/{methodName}";
            builders.Add(endpoints.MapPost(path, endpoint).WithDisplayName($"gRPC - {path}"));
            registry.AddService(serviceName);
        }
        registry.MapUnimplementedOnce(endpoints);
        return new CompositeConventionBuilder(builders);
    }

    private sealed class CompositeConventionBuilder(List<IEndpointConventionBuilder> builders) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (var builder in builders)
            {
                builder.Add(convention);
            }
        }
    }
}
