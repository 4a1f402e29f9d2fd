using System.Diagnostics;
using System.Globalization;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>CpuBackend, Preprocessor and Gateway as plain child processes, wired by the variables the AppHost sets
/// (Kestrel endpoints, <c>services__*__grpc__0</c>, <c>Model__Path</c>) on free loopback ports: the request path
/// without the orchestrator, for machines that have the .NET runtime but not Aspire's (a benchmark host without the SDK).</summary>
/// <remarks>Each service runs from its own project's build output of the configuration this benchmark was built in, with
/// the processor count of its pod (<see cref="PodCpuLimits"/>). Unlike the AppHost, nothing exports telemetry (no OTLP
/// endpoint) and no proxy sits in front of a port.</remarks>
internal sealed class ServiceProcesses : IAsyncDisposable
{
    // A bound on each start so a broken service fails the run instead of hanging it.
    static readonly TimeSpan HealthyGuard = TimeSpan.FromMinutes(2);
    const int KeptOutputLines = 40;

    readonly List<Service> _started = [];

    ServiceProcesses()
    {
    }

    /// <summary>Starts backend, preprocessor and gateway in that order, each once the one before is healthy; the Gateway gets
    /// <paramref name="gatewayEnvironment"/> on top.</summary>
    public static async Task<ServiceProcesses> StartAsync(IReadOnlyDictionary<string, string> gatewayEnvironment)
    {
        var services = new ServiceProcesses();
        try
        {
            var model = RepositoryPaths.Combine("models", "gptj-vi-demo");
            var backend = await services.StartAsync("backend", "CpuBackend", withGrpc: true, new() { ["Model__Path"] = model });
            var preprocessor = await services.StartAsync("preprocessor", "Preprocessor", withGrpc: true, new()
            {
                ["Model__Path"] = model,
                ["services__backend__grpc__0"] = backend.Grpc!.ToString(),
            });
            var gateway = new Dictionary<string, string>(gatewayEnvironment) { ["services__preprocessor__grpc__0"] = preprocessor.Grpc!.ToString() };
            await services.StartAsync("gateway", "Gateway", withGrpc: false, gateway);
            return services;
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }
    }

    /// <summary>The process of a service, named as in the AppHost.</summary>
    public Process GetProcess(string resource) => _started.Single(s => s.Resource == resource).Process;

    /// <summary>The URL of endpoint <c>http</c> or <c>grpc</c> of a service, named as in the AppHost.</summary>
    public Uri GetEndpoint(string resource, string endpoint)
    {
        var service = _started.Single(s => s.Resource == resource);
        return endpoint switch
        {
            "http" => service.Http,
            "grpc" => service.Grpc ?? throw new ArgumentException($"{resource} has no grpc endpoint.", nameof(endpoint)),
            _ => throw new ArgumentException($"Unknown endpoint '{endpoint}'.", nameof(endpoint)),
        };
    }

    async Task<Service> StartAsync(string resource, string project, bool withGrpc, Dictionary<string, string> environment)
    {
        // This benchmark's own build output is <project>/bin/<configuration>/<framework>/; the services' lie beside it.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var assembly = RepositoryPaths.Combine(project, "bin", output.Parent!.Name, output.Name, project + ".dll");
        if (!File.Exists(assembly))
            throw new FileNotFoundException($"{project} is not built: run 'dotnet build {project} -c {output.Parent.Name}' first.", assembly);

        // Started from its output folder, as a published service is: its content root is the working directory, and from
        // anywhere else it would run without its appsettings.json (every request then logged at Information, two console
        // lines per request in each service).
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        start.ArgumentList.Add(assembly);
        var http = new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}");
        start.Environment["Kestrel__Endpoints__http__Url"] = http.ToString();
        Uri? grpc = null;
        if (withGrpc)
        {
            grpc = new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}");
            start.Environment["Kestrel__Endpoints__grpc__Url"] = grpc.ToString();
            start.Environment["Kestrel__Endpoints__grpc__Protocols"] = "Http2";
        }
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        start.Environment["DOTNET_PROCESSOR_COUNT"] = PodCpuLimits.ProcessorCount(resource).ToString(CultureInfo.InvariantCulture);

        var service = new Service(resource, new Process { StartInfo = start }, http, grpc);
        service.Process.OutputDataReceived += service.Keep;
        service.Process.ErrorDataReceived += service.Keep;
        service.Process.Start();
        _started.Add(service);
        service.Process.BeginOutputReadLine();
        service.Process.BeginErrorReadLine();
        await service.WaitHealthyAsync();
        return service;
    }

    // The host running this benchmark when it is `dotnet` (a machine whose runtime is not on PATH), else the one on PATH.
    static string DotnetHost() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    public async ValueTask DisposeAsync()
    {
        // Front to back, so no service outlives the one it calls by much.
        foreach (var service in Enumerable.Reverse(_started))
        {
            try
            {
                service.Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
            await service.Process.WaitForExitAsync();
            service.Process.Dispose();
        }
        _started.Clear();
    }

    sealed class Service(string resource, Process process, Uri http, Uri? grpc)
    {
        public string Resource { get; } = resource;
        public Process Process { get; } = process;
        public Uri Http { get; } = http;
        public Uri? Grpc { get; } = grpc;

        readonly Queue<string> _tail = new();

        public void Keep(object sender, DataReceivedEventArgs line)
        {
            if (line.Data is null)
                return;
            lock (_tail)
            {
                _tail.Enqueue(line.Data);
                if (_tail.Count > KeptOutputLines)
                    _tail.Dequeue();
            }
        }

        public async Task WaitHealthyAsync()
        {
            try
            {
                await HealthProbe.WaitAsync(Process, new Uri(Http, "/health"), HealthyGuard);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                string tail;
                lock (_tail)
                    tail = string.Join(Environment.NewLine, _tail);
                throw new InvalidOperationException($"{Resource} did not become healthy within {HealthyGuard.TotalMinutes:0} min: {e.Message}{Environment.NewLine}{tail}", e);
            }
        }
    }
}
