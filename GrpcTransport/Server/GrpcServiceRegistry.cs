using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GptjAspire.GrpcTransport.Server;

/// <summary>Knows which services are mapped, so an unknown method can be told apart from an unknown service.</summary>
internal sealed class GrpcServiceRegistry
{
    private readonly ConcurrentDictionary<string, bool> _services = new(StringComparer.Ordinal);
    private int _unimplementedMapped;

    public void AddService(string serviceName) => _services[serviceName] = true;

    /// <summary>A catch-all <c>POST /{service}/{method}</c>; literal method routes always win over it.</summary>
    public void MapUnimplementedOnce(IEndpointRouteBuilder endpoints)
    {
        if (Interlocked.Exchange(ref _unimplementedMapped, 1) == 1)
        {
            return;
        }
        endpoints.MapPost("/{grpcService}/{grpcMethod}", http =>
        {
            var service = http.Request.RouteValues["grpcService"] as string ?? "";
            return ServerCallRunner.RunUnimplementedAsync(http, _services.ContainsKey(service)
                ? "Method is unimplemented."
                : "Service is unimplemented.");
        }).WithDisplayName("gRPC - unimplemented").Add(b => ((RouteEndpointBuilder)b).Order = int.MaxValue);
    }
}
