using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GptjAspire.GrpcTransport;
using GptjAspire.GrpcTransport.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.ServiceDefaults.Tests;

/// <summary>Two services in one process, each on its own Kestrel port with ServiceDefaults: a trace started at the caller's edge continues in the callee.</summary>
public sealed class TracePropagationTests
{
    private static readonly Method<HealthCheckRequest, HealthCheckResponse> ProbeMethod =
        new(MethodType.Unary, "testing.TraceProbe", "Probe", HealthCheckRequest.Parser, HealthCheckResponse.Parser);

    [Fact]
    public async Task Trace_id_from_the_callers_request_arrives_at_the_grpc_handler_of_another_service()
    {
        var collector = DeadCollectorEndpoint();
        var probe = new TraceProbe();

        var backendBuilder = WebApplication.CreateSlimBuilder();
        Configure(backendBuilder, collector, "backend", listen => listen.Protocols = HttpProtocols.Http2);
        backendBuilder.Services.AddGrpcTransport();
        backendBuilder.Services.AddSingleton(probe);
        await using var backend = backendBuilder.Build();
        backend.MapGrpcService<TraceProbe>(binder => binder.AddUnaryMethod(ProbeMethod, (service, request, context) => service.Probe(request, context)));
        await backend.StartAsync();

        var frontBuilder = WebApplication.CreateSlimBuilder();
        Configure(frontBuilder, collector, "front", listen => listen.Protocols = HttpProtocols.Http1);
        frontBuilder.Services.AddSingleton(_ => GrpcChannel.ForAddress(backend.Urls.Single()));
        await using var front = frontBuilder.Build();
        front.MapGet("/relay", async (GrpcChannel channel) =>
        {
            await channel.AsyncUnaryCall(ProbeMethod, new HealthCheckRequest());
            return "relayed";
        });
        await front.StartAsync();

        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(front.Urls.Single()), "/relay"));
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var seen = await probe.Seen.Task;
        Assert.Equal(traceId, seen.TraceId);
        // The handler runs inside our gRPC server span, below the front's spans rather than directly below the caller.
        Assert.Equal(GrpcTelemetry.ActivitySourceName, seen.SourceName);
        Assert.NotEqual(callerSpan, seen.ParentSpanId);
    }

    private static void Configure(WebApplicationBuilder builder, Uri collector, string serviceName, Action<ListenOptions> listen)
    {
        builder.Logging.ClearProviders();
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.ToString();
        builder.Configuration["OTEL_SERVICE_NAME"] = serviceName;
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen));
        builder.AddServiceDefaults();
    }

    /// <summary>A loopback port with nothing listening: exports fail fast and stay on this machine.</summary>
    private static Uri DeadCollectorEndpoint()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new Uri($"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}");
    }

    private sealed record SpanSeen(ActivityTraceId TraceId, ActivitySpanId ParentSpanId, string SourceName);

    private sealed class TraceProbe
    {
        public TaskCompletionSource<SpanSeen> Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<HealthCheckResponse> Probe(HealthCheckRequest request, ServerCallContext context)
        {
            var current = Activity.Current;
            Seen.TrySetResult(current is null
                ? new SpanSeen(default, default, "")
                : new SpanSeen(current.TraceId, current.ParentSpanId, current.Source.Name));
            return Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
        }
    }
}
