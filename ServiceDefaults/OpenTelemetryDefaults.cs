using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GptjAspire.ServiceDefaults;

/// <summary>Traces, metrics and logs over OTLP with the OpenTelemetry SDK, when OTEL_EXPORTER_OTLP_ENDPOINT is set (Aspire's convention).</summary>
public static class OpenTelemetryDefaults
{
    /// <summary>Activity sources traced: ASP.NET Core requests, HttpClient requests and every GptjAspire source (gRPC calls, generation).</summary>
    public static readonly string[] ActivitySources = ["Microsoft.AspNetCore", "System.Net.Http", "GptjAspire.*"];

    /// <summary>Meters exported: the ones ASP.NET Core, Kestrel, HttpClient and the runtime publish, and every GptjAspire meter.</summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing",
        "System.Net.Http", "System.Net.NameResolution", "System.Runtime", "GptjAspire.*",
    ];

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        var endpoint = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return builder;
        }
        var exporter = new OtlpTarget(new Uri(endpoint), builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : builder.Environment.ApplicationName;
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName);

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.SetResourceBuilder(resource);
            logging.AddOtlpExporter(options => exporter.Apply(options, "logs"));
        });

        // Built now, not lazily, so requests are traced from the first one; the host disposes them (flushing) on shutdown.
        var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(ActivitySources)
            .AddOtlpExporter(options => exporter.Apply(options, "traces"))
            .Build();
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(Meters)
            .AddOtlpExporter(options => exporter.Apply(options, "metrics"))
            .Build();
        builder.Services.AddHostedService(_ => new TelemetryLifetime(tracing, metrics));
        return builder;
    }

    /// <summary>Where to export: gRPC (the default, as Aspire uses) or http/protobuf, whose signal paths the spec appends to the base endpoint.</summary>
    private sealed record OtlpTarget(Uri Endpoint, string? Protocol)
    {
        public void Apply(OtlpExporterOptions options, string signal)
        {
            if (string.Equals(Protocol, "http/protobuf", StringComparison.OrdinalIgnoreCase))
            {
                options.Protocol = OtlpExportProtocol.HttpProtobuf;
                options.Endpoint = new Uri(Endpoint, Endpoint.AbsolutePath.TrimEnd('/') + "/v1/" + signal);
            }
            else
            {
                options.Protocol = OtlpExportProtocol.Grpc;
                options.Endpoint = Endpoint;
            }
        }
    }

    /// <summary>Flushes on host stop and disposes the providers with the host.</summary>
    private sealed class TelemetryLifetime(TracerProvider? tracing, MeterProvider? metrics) : IHostedService, IDisposable
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            tracing?.ForceFlush(5000);
            metrics?.ForceFlush(5000);
            return Task.CompletedTask;
        }

        public void Dispose()
        {
            tracing?.Dispose();
            metrics?.Dispose();
        }
    }
}
