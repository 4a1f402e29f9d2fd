using System.Net.Http;

namespace GptjAspire.LocalRun.Processes;

/// <summary>CpuBackend, Preprocessor and Gateway as separate processes on free loopback ports, wired by the environment variables Aspire sets.</summary>
public sealed class LocalSystem : IAsyncDisposable
{
    public const string BackendName = "backend";
    public const string PreprocessorName = "preprocessor";
    public const string GatewayName = "gateway";

    readonly Action<string, string> _output;
    readonly IReadOnlyDictionary<string, string> _shared;
    readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <param name="output">Receives (service name, line) for every line a service writes.</param>
    /// <param name="sharedEnvironment">Extra variables for every service (e.g. <c>Model__Path</c>, <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>).</param>
    public LocalSystem(Action<string, string> output, IReadOnlyDictionary<string, string>? sharedEnvironment = null)
    {
        _output = output;
        _shared = sharedEnvironment ?? new Dictionary<string, string>();
        BackendHttpPort = FreePort.Next();
        BackendGrpcPort = FreePort.Next();
        PreprocessorHttpPort = FreePort.Next();
        PreprocessorGrpcPort = FreePort.Next();
        GatewayHttpPort = FreePort.Next();
    }

    public int BackendHttpPort { get; }
    public int BackendGrpcPort { get; }
    public int PreprocessorHttpPort { get; }
    public int PreprocessorGrpcPort { get; }
    public int GatewayHttpPort { get; }

    public Uri GatewayUrl => Loopback(GatewayHttpPort);

    /// <summary>The backend's KServe v2 gRPC address (what the Preprocessor is given as <c>services__backend__grpc__0</c>).</summary>
    public Uri BackendGrpcUrl => Loopback(BackendGrpcPort);

    public ServiceProcess? Backend { get; private set; }
    public ServiceProcess? Preprocessor { get; private set; }
    public ServiceProcess? Gateway { get; private set; }

    public IEnumerable<ServiceProcess> Running => new[] { Backend, Preprocessor, Gateway }.OfType<ServiceProcess>();

    /// <summary>Starts all three at once; each waits for the one behind it by itself (health says when the chain is ready).</summary>
    public void Start()
    {
        StartBackend();
        Preprocessor = Launch(PreprocessorName, ServiceBinaries.Preprocessor, PreprocessorHttpPort, PreprocessorGrpcPort,
            new() { ["services__backend__grpc__0"] = BackendGrpcUrl.ToString().TrimEnd('/') });
        Gateway = Launch(GatewayName, ServiceBinaries.Gateway, GatewayHttpPort, grpcPort: null,
            new() { ["services__preprocessor__grpc__0"] = Loopback(PreprocessorGrpcPort).ToString().TrimEnd('/') });
    }

    /// <summary>Starts CpuBackend on its ports (again, after <see cref="ServiceProcess.Kill"/>, to simulate a restart).</summary>
    public void StartBackend() =>
        Backend = Launch(BackendName, ServiceBinaries.CpuBackend, BackendHttpPort, BackendGrpcPort, []);

    /// <summary>Waits until every started service answers <c>/health</c> with 200; throws if one exits first or time runs out.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var checks = new List<Task>();
        if (Backend is not null) checks.Add(WaitHealthyAsync(Backend, BackendHttpPort, limit.Token));
        if (Preprocessor is not null) checks.Add(WaitHealthyAsync(Preprocessor, PreprocessorHttpPort, limit.Token));
        if (Gateway is not null) checks.Add(WaitHealthyAsync(Gateway, GatewayHttpPort, limit.Token));
        try
        {
            await Task.WhenAll(checks);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The services were not all healthy within {timeout.TotalSeconds:F0} s.");
        }
    }

    /// <summary>Polls one service's <c>/health</c> until it answers 200.</summary>
    public async Task WaitHealthyAsync(ServiceProcess service, int httpPort, CancellationToken cancellationToken)
    {
        var health = new Uri(Loopback(httpPort), "/health");
        while (true)
        {
            if (service.Exited.IsCompleted)
                throw new InvalidOperationException($"{service.Name} exited with code {service.Exited.Result} before it was healthy.");
            try
            {
                using var response = await _http.GetAsync(health, cancellationToken);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // One slow answer; ask again.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    ServiceProcess Launch(string name, string project, int httpPort, int? grpcPort, Dictionary<string, string> wiring)
    {
        var environment = new Dictionary<string, string>(_shared)
        {
            ["Kestrel__Endpoints__http__Url"] = Loopback(httpPort).ToString().TrimEnd('/'),
            ["OTEL_SERVICE_NAME"] = name,
        };
        if (grpcPort is { } port)
        {
            // Cleartext HTTP/2 (prior knowledge) needs an Http2-only endpoint: Kestrel does no h2c upgrade.
            environment["Kestrel__Endpoints__grpc__Url"] = Loopback(port).ToString().TrimEnd('/');
            environment["Kestrel__Endpoints__grpc__Protocols"] = "Http2";
        }
        foreach (var (key, value) in wiring)
            environment[key] = value;
        return ServiceProcess.Start(name, ServiceBinaries.PathOf(project), environment, _output);
    }

    static Uri Loopback(int port) => new($"http://127.0.0.1:{port}");

    public async ValueTask DisposeAsync()
    {
        // Front to back, so no service logs errors about the one behind it disappearing first.
        foreach (var service in new[] { Gateway, Preprocessor, Backend })
            if (service is not null)
                await service.DisposeAsync();
        _http.Dispose();
    }
}
