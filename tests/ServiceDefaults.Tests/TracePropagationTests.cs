using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GptjAspire.Testing.Otlp;
using OtlpStatusCode = GptjAspire.Testing.Otlp.StatusCode;
using GptjAspire.ServiceDefaults.Tests.Probe;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.ServiceDefaults.Tests;

/// <summary>
/// Two services in one process, each on its own Kestrel port with ServiceDefaults exporting to an OTLP collector, as
/// Aspire configures them: a trace started at the caller's edge continues through a gRPC client (addressed by service
/// discovery) into the other service's handler, both export it under the service.instance.id they were given, no span
/// of the successful call is an error, and probes (/health, gRPC health) are not traced.
/// </summary>
public sealed class TracePropagationTests
{
    [Fact]
    public async Task Trace_crosses_the_grpc_hop_under_the_given_instance_ids_and_probes_are_not_traced()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var probe = new ProbeService();

        var backendBuilder = WebApplication.CreateSlimBuilder();
        Configure(backendBuilder, collector.Endpoint, "backend", "backend-instance-7", listen => listen.Protocols = HttpProtocols.Http2);
        backendBuilder.Services.AddGrpc();
        backendBuilder.Services.AddGrpcHealthChecks();
        backendBuilder.Services.AddSingleton(probe);
        var backend = backendBuilder.Build();
        backend.MapGrpcService<ProbeService>();
        backend.MapGrpcHealthChecksService();
        await backend.StartAsync();

        var frontBuilder = WebApplication.CreateSlimBuilder();
        Configure(frontBuilder, collector.Endpoint, "front", "front-instance-3", listen => listen.Protocols = HttpProtocols.Http1);
        frontBuilder.Configuration["services:backend:grpc:0"] = backend.Urls.Single();
        frontBuilder.Services.AddGrpcClient<TraceProbe.TraceProbeClient>(options => options.Address = new Uri("http://_grpc.backend"))
            .ForGrpc();
        var front = frontBuilder.Build();
        front.MapGet("/relay", async (TraceProbe.TraceProbeClient client) =>
        {
            await client.ProbeAsync(new ProbeRequest());
            return "relayed";
        });
        front.MapDefaultEndpoints();
        await front.StartAsync();

        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        // The caller's own trace context, not one this process's HttpClient instrumentation would put there.
        using (var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = new Uri(front.Urls.Single()) })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/relay");
            request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        }
        using (var channel = GrpcChannel.ForAddress(backend.Urls.Single()))
        {
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest())).Status);
        }

        var seen = await probe.Seen.Task;
        Assert.Equal(traceId, seen.TraceId);
        // The handler runs below the front's client span, not directly below the caller.
        Assert.NotEqual(callerSpan, seen.ParentSpanId);

        // Stopping the hosts flushes their exporters.
        await front.DisposeAsync();
        await backend.DisposeAsync();

        var spans = Spans(collector.Data).ToList();
        var trace = spans.Where(s => s.Span.TraceId.Span.SequenceEqual(Convert.FromHexString(traceId.ToHexString()))).ToList();
        Assert.Contains(trace, s => s.Service == "front" && s.Span.Kind == SpanKind.Server);
        Assert.Contains(trace, s => s.Service == "front" && s.Span.Kind == SpanKind.Client);
        Assert.Contains(trace, s => s.Service == "backend" && s.Span.Kind == SpanKind.Server);
        Assert.All(trace, s => Assert.NotEqual(OtlpStatusCode.Error, s.Span.Status?.Code ?? OtlpStatusCode.Unset));
        // Server side only: both hosts share this process, so each one's client instrumentation also sees the test's own calls.
        Assert.DoesNotContain(spans, s => s.Span.Kind == SpanKind.Server
            && (s.Span.Name.Contains("health", StringComparison.OrdinalIgnoreCase) || s.Span.Name.Contains("alive", StringComparison.OrdinalIgnoreCase)));

        Assert.Equal(new HashSet<string> { "front-instance-3", "backend-instance-7" }, collector.Data.ResourceValues("traces", "service.instance.id"));
        Assert.Equal(new HashSet<string> { "front-instance-3", "backend-instance-7" }, collector.Data.ResourceValues("metrics", "service.instance.id"));
        Assert.Contains("front", collector.Data.ServiceNames("logs"));
    }

    private static IEnumerable<(string Service, Span Span)> Spans(OtlpCollector.Received data) =>
        from batch in data.Traces().SelectMany(r => r.Batches)
        let service = batch.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? ""
        from scope in batch.ScopeSpans
        from span in scope.Spans
        select (service, span);

    /// <summary>What Aspire passes a service: the OTLP endpoint, its name and its instance id.</summary>
    private static void Configure(WebApplicationBuilder builder, Uri collector, string serviceName, string instanceId, Action<ListenOptions> listen)
    {
        builder.Logging.ClearProviders();
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.ToString();
        builder.Configuration["OTEL_SERVICE_NAME"] = serviceName;
        builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instanceId}";
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen));
        builder.AddServiceDefaults();
    }

    private sealed record SpanSeen(ActivityTraceId TraceId, ActivitySpanId ParentSpanId);

    private sealed class ProbeService : TraceProbe.TraceProbeBase
    {
        public TaskCompletionSource<SpanSeen> Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Task<ProbeReply> Probe(ProbeRequest request, ServerCallContext context)
        {
            var current = Activity.Current;
            Seen.TrySetResult(current is null ? new SpanSeen(default, default) : new SpanSeen(current.TraceId, current.ParentSpanId));
            return Task.FromResult(new ProbeReply());
        }
    }
}
