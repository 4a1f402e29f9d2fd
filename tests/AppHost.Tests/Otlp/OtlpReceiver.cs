using System.Collections.Concurrent;
using Google.Protobuf;
using GptjAspire.Testing.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.AppHost.Tests.Otlp;

/// <summary>A minimal OTLP/HTTP receiver (protobuf encoding) on a loopback port: keeps every span the services export.</summary>
/// <remarks>OTLP/HTTP: POST <c>/v1/traces</c> with an <c>ExportTraceServiceRequest</c>; an empty 200 is a full success.
/// Metrics and logs are accepted and dropped.</remarks>
public sealed class OtlpReceiver : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentQueue<ReceivedSpan> _spans = new();

    readonly string _contentRoot;

    OtlpReceiver(WebApplication app, string contentRoot)
    {
        _app = app;
        _contentRoot = contentRoot;
    }

    /// <summary>Base URL for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string Endpoint => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync()
    {
        // An empty content root: the services' appsettings.json (with their Kestrel endpoints) lie in the test's output folder.
        var root = Directory.CreateTempSubdirectory("otlp-receiver-").FullName;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = root });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, root);
        app.MapPost("/v1/traces", receiver.ReceiveAsync);
        app.MapPost("/v1/metrics", () => Results.Bytes([], "application/x-protobuf"));
        app.MapPost("/v1/logs", () => Results.Bytes([], "application/x-protobuf"));
        await app.StartAsync();
        return receiver;
    }

    async Task<IResult> ReceiveAsync(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var export = ExportRequest.Parser.ParseFrom(body.ToArray());
        foreach (var resource in export.Batches)
        {
            var service = ResourceAttribute(resource, "service.name");
            var instance = ResourceAttribute(resource, "service.instance.id");
            foreach (var scope in resource.ScopeSpans)
                foreach (var span in scope.Spans)
                    _spans.Enqueue(new ReceivedSpan(service, instance, Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId),
                        scope.Scope?.Name ?? "", span.Name,
                        span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value)), span.Events.Select(e => e.Name).ToList(),
                        span.Status?.Code == StatusCode.Error ? span.Status.Message : null,
                        span.StartTimeUnixNano, span.EndTimeUnixNano));
        }
        return Results.Bytes([], "application/x-protobuf");
    }

    /// <summary>Waits until a span matching <paramref name="match"/> has arrived (spans come in export batches).</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> match, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (!match(Spans))
        {
            if (timeout.IsCancellationRequested)
                return Spans;
            await Task.Delay(100);
        }
        return Spans;
    }

    static string ResourceAttribute(ResourceBatch resource, string key) =>
        resource.Resource?.Attributes.FirstOrDefault(a => a.Key == key)?.Value.StringValue ?? "";

    static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_contentRoot, recursive: true);
    }
}
