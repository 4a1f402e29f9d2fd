using GptjAspire.GrpcTransport.Health.V1;

namespace GptjAspire.GrpcTransport.Health;

/// <summary>The standard gRPC health service (grpc.health.v1.Health: Check and Watch) over <see cref="GrpcHealthStatus"/>.</summary>
public sealed class HealthService(GrpcHealthStatus health)
{
    public const string ServiceName = "grpc.health.v1.Health";

    public static readonly Method<HealthCheckRequest, HealthCheckResponse> CheckMethod =
        new(MethodType.Unary, ServiceName, "Check", HealthCheckRequest.Parser, HealthCheckResponse.Parser);

    public static readonly Method<HealthCheckRequest, HealthCheckResponse> WatchMethod =
        new(MethodType.ServerStreaming, ServiceName, "Watch", HealthCheckRequest.Parser, HealthCheckResponse.Parser);

    public static void Bind(GrpcServiceBinder<HealthService> binder)
    {
        binder.AddUnaryMethod(CheckMethod, (service, request, context) => service.Check(request, context));
        binder.AddServerStreamingMethod(WatchMethod, (service, request, writer, context) => service.Watch(request, writer, context));
    }

    public Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        // health-checking.md: an unknown service is NOT_FOUND.
        var status = health.GetStatus(request.Service)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Unknown service \"{request.Service}\"."));
        return Task.FromResult(new HealthCheckResponse { Status = status });
    }

    public async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        try
        {
            await foreach (var status in health.WatchAsync(request.Service, context.CancellationToken).ConfigureAwait(false))
            {
                await responseStream.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // A watch ends only when the client leaves or its deadline passes.
        }
    }
}
