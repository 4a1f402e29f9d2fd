using System.Diagnostics;
using System.Net;
using GptjAspire.GrpcTransport;
using GptjAspire.GrpcTransport.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.ServiceDefaults.Tests;

/// <summary>
/// Two services in one process, each on its own Kestrel port with ServiceDefaults exporting to an OTLP collector:
/// a trace started at the caller's edge continues in the callee through our gRPC transport, and both export it.
/// </summary>
public sealed class TracePropagationTests
{
    private static readonly Method<HealthCheckRequest, HealthCheckResponse> ProbeMethod =
        new(MethodType.Unary, "testing.TraceProbe", "Probe", HealthCheckRequest.Parser, HealthCheckResponse.Parser);

    [Fact]
    public async Task Trace_id_from_the_callers_request_reaches_the_grpc_handler_of_another_service_and_both_export_it()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var probe = new TraceProbe();

        var backendBuilder = WebApplication.CreateSlimBuilder();
        Configure(backendBuilder, collector.Endpoint, "backend", listen => listen.Protocols = HttpProtocols.Http2);
        backendBuilder.Services.AddGrpcTransport();
        backendBuilder.Services.AddSingleton(probe);
        var backend = backendBuilder.Build();
        backend.MapGrpcService<TraceProbe>(binder => binder.AddUnaryMethod(ProbeMethod, (service, request, context) => service.Probe(request, context)));
        await backend.StartAsync();

        var frontBuilder = WebApplication.CreateSlimBuilder();
        Configure(frontBuilder, collector.Endpoint, "front", listen => listen.Protocols = HttpProtocols.Http1);
        frontBuilder.Services.AddSingleton(_ => GrpcChannel.ForAddress(backend.Urls.Single()));
        var front = frontBuilder.Build();
        front.MapGet("/relay", async (GrpcChannel channel) =>
        {
            await channel.AsyncUnaryCall(ProbeMethod, new HealthCheckRequest());
            return "relayed";
        });
        await front.StartAsync();

        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        using (var client = new HttpClient())
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(front.Urls.Single()), "/relay")))
        {
            request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var seen = await probe.Seen.Task;
        Assert.Equal(traceId, seen.TraceId);
        // The handler runs inside our gRPC server span, below the front's spans rather than directly below the caller.
        Assert.Equal(GrpcTelemetry.ActivitySourceName, seen.SourceName);
        Assert.NotEqual(callerSpan, seen.ParentSpanId);

        // Stopping the hosts flushes their exporters.
        await front.DisposeAsync();
        await backend.DisposeAsync();

        var spans = SpansOf(collector.Data, traceId);
        Assert.Contains(("front", "Microsoft.AspNetCore"), spans);
        Assert.Contains(("front", GrpcTelemetry.ActivitySourceName), spans);
        Assert.Contains(("backend", "Microsoft.AspNetCore"), spans);
        Assert.Contains(("backend", GrpcTelemetry.ActivitySourceName), spans);
        Assert.Superset(new HashSet<string> { "front", "backend" }, collector.Data.ServiceNames("metrics"));
        Assert.Superset(new HashSet<string> { "front", "backend" }, collector.Data.ServiceNames("logs"));
    }

    /// <summary>(service.name, instrumentation scope) of every exported span in the trace.</summary>
    private static HashSet<(string Service, string Scope)> SpansOf(OtlpCollector.Received data, ActivityTraceId traceId)
    {
        var wanted = Convert.FromHexString(traceId.ToHexString());
        var spans = new HashSet<(string, string)>();
        foreach (var batch in data.Get("traces").SelectMany(r => r.Batches))
        {
            var service = batch.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";
            foreach (var scope in batch.ScopeSpans)
            {
                if (scope.Spans.Any(s => s.TraceId.Span.SequenceEqual(wanted)))
                {
                    spans.Add((service, scope.Scope?.Name ?? ""));
                }
            }
        }
        return spans;
    }

    private static void Configure(WebApplicationBuilder builder, Uri collector, string serviceName, Action<ListenOptions> listen)
    {
        builder.Logging.ClearProviders();
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.ToString();
        builder.Configuration["OTEL_SERVICE_NAME"] = serviceName;
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen));
        builder.AddServiceDefaults();
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
