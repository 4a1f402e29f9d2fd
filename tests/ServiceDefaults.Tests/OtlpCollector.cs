using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using GptjAspire.Testing.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.ServiceDefaults.Tests;

/// <summary>An in-process OTLP/gRPC collector on Grpc.AspNetCore; it keeps what it receives, per signal.</summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpCollector(WebApplication app, Received received)
    {
        _app = app;
        Data = received;
    }

    public Uri Endpoint => new(_app.Urls.Single());

    public Received Data { get; }

    public static async Task<OtlpCollector> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var received = new Received();
        builder.Services.AddSingleton(received);
        builder.Services.AddSingleton<IServiceMethodProvider<Received>, ExportMethods>();
        var app = builder.Build();
        app.MapGrpcService<Received>();
        await app.StartAsync();
        return new OtlpCollector(app, received);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>The export requests received, by signal ("traces", "metrics", "logs"), as sent.</summary>
    public sealed class Received
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<byte[]>> _bySignal = new();

        public IReadOnlyList<ExportRequest> Traces() => [.. Raw("traces").Select(ExportRequest.Parser.ParseFrom)];

        /// <summary>service.name of every resource that sent this signal.</summary>
        public ISet<string> ServiceNames(string signal) => ResourceValues(signal, "service.name");

        /// <summary>The values of one resource attribute over every resource that sent this signal.</summary>
        public ISet<string> ResourceValues(string signal, string key) => Raw(signal)
            .Select(ResourceExport.Parser.ParseFrom)
            .SelectMany(r => r.Batches)
            .SelectMany(b => b.Resource?.Attributes ?? [])
            .Where(a => a.Key == key)
            .Select(a => a.Value.StringValue)
            .ToHashSet();

        private IEnumerable<byte[]> Raw(string signal) => _bySignal.TryGetValue(signal, out var queue) ? queue : [];

        internal Task<ExportResponse> Add(string signal, byte[] request)
        {
            _bySignal.GetOrAdd(signal, _ => new ConcurrentQueue<byte[]>()).Enqueue(request);
            return Task.FromResult(new ExportResponse());
        }
    }

    /// <summary>The three OTLP Export methods, bound by hand: the subset .proto declares only their messages, and each request
    /// is kept as sent, to be read as traces or for its resources.</summary>
    private sealed class ExportMethods : IServiceMethodProvider<Received>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<Received> context)
        {
            var request = Marshallers.Create(bytes => bytes, bytes => bytes);
            var response = Marshallers.Create(m => m.ToByteArray(), ExportResponse.Parser.ParseFrom);
            foreach (var (signal, service) in new[] { ("traces", "trace.v1.TraceService"), ("metrics", "metrics.v1.MetricsService"), ("logs", "logs.v1.LogsService") })
            {
                var method = new Method<byte[], ExportResponse>(MethodType.Unary, $"opentelemetry.proto.collector.{service}", "Export", request, response);
                context.AddUnaryMethod(method, [], (received, export, _) => received.Add(signal, export));
            }
        }
    }
}
