using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.GrpcTransport;

/// <summary>Collects a service's methods and their handlers for <c>MapGrpcService</c>.</summary>
public sealed class GrpcServiceBinder<TService>
    where TService : class
{
    internal List<(string ServiceName, string MethodName, RequestDelegate Endpoint)> Methods { get; } = [];

    public void AddUnaryMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TService, TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        Add(method, MethodType.Unary, async (service, context) =>
        {
            var request = await new Server.RequestStreamReader<TRequest>(context, method.RequestParser).ReadSingleAsync().ConfigureAwait(false);
            var response = await handler(service, request, context).ConfigureAwait(false);
            await new Server.ResponseStreamWriter<TResponse>(context).WriteAsync(response).ConfigureAwait(false);
        });
    }

    public void AddServerStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TService, TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        Add(method, MethodType.ServerStreaming, async (service, context) =>
        {
            var request = await new Server.RequestStreamReader<TRequest>(context, method.RequestParser).ReadSingleAsync().ConfigureAwait(false);
            await handler(service, request, new Server.ResponseStreamWriter<TResponse>(context), context).ConfigureAwait(false);
        });
    }

    public void AddClientStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TService, IAsyncStreamReader<TRequest>, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        Add(method, MethodType.ClientStreaming, async (service, context) =>
        {
            var response = await handler(service, new Server.RequestStreamReader<TRequest>(context, method.RequestParser), context).ConfigureAwait(false);
            await new Server.ResponseStreamWriter<TResponse>(context).WriteAsync(response).ConfigureAwait(false);
        });
    }

    public void AddDuplexStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, Func<TService, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        Add(method, MethodType.DuplexStreaming, (service, context) =>
            handler(service, new Server.RequestStreamReader<TRequest>(context, method.RequestParser), new Server.ResponseStreamWriter<TResponse>(context), context));
    }

    private void Add<TRequest, TResponse>(Method<TRequest, TResponse> method, MethodType expected, Func<TService, Server.HttpServerCallContext, Task> body)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        if (method.Type != expected)
        {
            throw new ArgumentException($"Method {method.FullName} is {method.Type}, not {expected}.", nameof(method));
        }
        Methods.Add((method.ServiceName, method.Name, http => Server.ServerCallRunner.RunAsync(http, method.ServiceName, method.Name, context => InvokeAsync(http, context, body))));
    }

    /// <summary>Uses the service registered in DI, or creates one for this call (and disposes it) as Grpc.AspNetCore does.</summary>
    private static async Task InvokeAsync(HttpContext http, Server.HttpServerCallContext context, Func<TService, Server.HttpServerCallContext, Task> body)
    {
        var registered = http.RequestServices.GetService<TService>();
        var service = registered ?? ActivatorUtilities.CreateInstance<TService>(http.RequestServices);
        try
        {
            await body(service, context).ConfigureAwait(false);
        }
        finally
        {
            if (registered is null)
            {
                switch (service)
                {
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                }
            }
        }
    }
}
