using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GptjAspire.ServiceDefaults;

/// <summary>What every GptjAspire service shares, in the shape of Aspire's service defaults: OpenTelemetry, health checks, service discovery and HttpClient resilience.</summary>
public static class Extensions
{
    /// <summary>Tag of the health checks that decide liveness (/alive); every check decides readiness (/health).</summary>
    public const string LiveTag = "live";

    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    /// <summary>Our own activity sources and meters (gRPC client calls to the backend, generation): every name under this prefix.</summary>
    public const string OwnTelemetry = "GptjAspire.*";

    /// <summary>Requests that are probes, not work: health endpoints, the metrics scrape and the gRPC health service. They are not traced.</summary>
    private static readonly string[] ProbePaths = [HealthPath, AlivePath, MetricsEndpoint.Path, "/grpc.health.v1.Health/", "/v2/health/"];

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (with the service.instance.id Aspire assigns) are read by the
            // default resource; name the service only when nobody did, and never invent an instance id that would replace Aspire's.
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(builder.Configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(builder.Environment.ApplicationName, autoGenerateServiceInstanceId: false);
                }
            })
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(OwnTelemetry)
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, OwnTelemetry)
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = context => !IsProbe(context.Request.Path))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>Maps /health (ready: all checks pass), /alive (the checks tagged "live" pass) and the Prometheus scrape endpoint /metrics (<see cref="MetricsEndpoint"/>).</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthPath);
        app.MapHealthChecks(AlivePath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(LiveTag) });
        app.MapMetrics();
        return app;
    }

    /// <summary>
    /// For the HttpClient under a gRPC client: removes the standard resilience handler <see cref="AddServiceDefaults"/>
    /// gives every HttpClient, and IHttpClientFactory's per-request logging handlers.
    /// gRPC calls are governed by their deadline and cancellation: the handler's 30 s total timeout would cut long
    /// generations and streams, and its retries would replay generations (gRPC answers HTTP 200 even for failures anyway).
    /// Grpc.Net.Client logs its own calls (category <c>Grpc.Net.Client</c>); the factory's handlers would open a log scope
    /// and format the URI for every call besides, whatever the log level.
    /// </summary>
    public static IHttpClientBuilder ForGrpc(this IHttpClientBuilder builder)
    {
        // Marked experimental, but it is the documented way to opt one client out of ConfigureHttpClientDefaults' handler.
#pragma warning disable EXTEXP0001
        return builder.RemoveAllResilienceHandlers().RemoveAllLoggers();
#pragma warning restore EXTEXP0001
    }

    /// <summary>
    /// Starts a scope whose outgoing calls are not traced, on this side or the server's (their trace context says "not
    /// sampled"): for background probes such as polling a backend's readiness, which would otherwise record a trace each time.
    /// </summary>
    public static Activity StartUntraced(string name)
    {
        var probe = new Activity(name);
        probe.SetIdFormat(ActivityIdFormat.W3C);
        probe.ActivityTraceFlags = ActivityTraceFlags.None;
        return probe.Start();
    }

    private static bool IsProbe(PathString path) =>
        ProbePaths.Any(probe => path.StartsWithSegments(probe.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));
}
