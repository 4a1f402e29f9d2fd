using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using GptjAspire.Gptj.V1;
using GptjAspire.Tokenizer;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>Overhead of the request path: the same generation through Gateway → Preprocessor → CpuBackend against
/// CpuBackend called directly with the pre-tokenized request (the anchor), at 1 and 32 concurrent clients, with the
/// hops in between measured too, so the added time is attributed: the backend's ModelStreamInfer as the Preprocessor
/// calls it, the Preprocessor's Generate called directly, then the Gateway.</summary>
/// <remarks>Options: <c>--max-tokens N</c> (default 16), <c>--requests N</c> per path at one client (default 256),
/// <c>--warmup N</c> requests per path at 32 clients before anything is measured (default 1024), followed by rounds of 256
/// per path until the three services' JIT has stopped compiling (<see cref="JitSettling"/>: tiered compilation of the
/// Gateway's request path took several thousand requests to settle on 2 cores, and its thread competed with the
/// services for the cores until it had),
/// <c>--processes</c> starts the three services as child processes instead of through the AppHost (no orchestrator, no
/// telemetry export: a machine with the .NET runtime but without Aspire's orchestrator), each seeing the processor count
/// of its pod's CPU limit as deployed,
/// <c>--load-requests N</c> per path at 32 clients (default 4096) and <c>--rounds N</c> (default 16): at 32 clients the paths
/// are measured in turn, N rounds of load-requests/N each, so a machine whose load drifts during the run weighs on every
/// path alike. A round is 8 requests per client, so that a throughput is that of clients in steady state: with 64 requests
/// a round (256 in 4) a round lasted 0.1 s, two waves of 32 requests that started together, and its ratio moved by
/// ±0.05 from run to run; with 2,048 in 8 rounds it still moved by ±0.02 (0.887-0.928 over six runs of the same code), as
/// much as the margin judged, and 16 rounds halve that spread. At one client the paths alternate request by request
/// and the added time is the median of the per-request differences: one generation's time varies by more than the
/// overhead measured (here 11-60 ms for 16 tokens), and pairing cancels what two neighbouring requests share.</remarks>
public static class GatewaySuite
{
    const string Prompt = "Hà Nội là thủ đô của Việt Nam, nơi";
    static readonly string[] Services = ["backend", "preprocessor", "gateway"];
    const ulong Seed = 42;

    public static async Task<int> RunAsync(string[] args)
    {
        var maxTokens = Option(args, "--max-tokens", 16);
        var requests = Option(args, "--requests", 256);
        var loadRequests = Option(args, "--load-requests", 4096);
        var rounds = Option(args, "--rounds", 16);
        var warmup = Option(args, "--warmup", 1024);

        var asProcesses = args.Contains("--processes");
        Console.WriteLine(asProcesses
            ? "Starting backend, preprocessor and gateway (child processes without the orchestrator, demo checkpoint; processors as in their pods: "
                + string.Join(", ", Services.Select(s => $"{s} {PodCpuLimits.ProcessorCount(s)}")) + ")..."
            : "Starting backend, preprocessor and gateway (the AppHost through Aspire.Hosting.Testing, demo checkpoint)...");
        await using var app = asProcesses ? null : await StartAppAsync();
        await using var processes = asProcesses ? await ServiceProcesses.StartAsync(UnlimitedCallers) : null;
        Uri Endpoint(string resource, string name) => processes?.GetEndpoint(resource, name) ?? app!.GetEndpoint(resource, name);
        var cpu = new ProcessorTimes([.. await Task.WhenAll(Services.Select(async s => processes?.GetProcess(s) ?? await ResourceProcessAsync(app!, s))), Process.GetCurrentProcess()]);

        var modelFolder = RepositoryPaths.Combine("models", "gptj-vi-demo");
        var tokenizer = BpeTokenizer.FromDirectory(modelFolder);
        var promptIds = tokenizer.Encode(Prompt);
        using var backend = TritonInferenceClient.ForAddress(Endpoint("backend", "grpc").ToString().TrimEnd('/'));
        using var gateway = new HttpClient { BaseAddress = Endpoint("gateway", "http"), Timeout = TimeSpan.FromMinutes(5) };
        using var preprocessorChannel = GrpcChannel.ForAddress(Endpoint("preprocessor", "grpc"));
        var preprocessor = new Preprocessor.PreprocessorClient(preprocessorChannel);

        Func<Task> direct = () => backend.InferAsync(DirectRequest(promptIds, maxTokens, tokenizer.EndOfTextId, streaming: false));
        // What the Preprocessor sends: the same tensors on ModelStreamInfer (Triton serves a decoupled model only there).
        Func<Task> directStream = async () =>
        {
            await foreach (var _ in backend.StreamInferAsync(DirectRequest(promptIds, maxTokens, tokenizer.EndOfTextId, streaming: false)))
            {
            }
        };
        // What the Gateway sends for the request below (OpenAI's defaults: top_p and temperature 1).
        Func<Task> throughPreprocessor = () => preprocessor.GenerateAsync(new GenerateRequest
        {
            Prompt = Prompt, N = 1, MaxNewTokens = maxTokens,
            Sampling = new SamplingParameters { TopK = 0, TopP = 1, Temperature = 1, Seed = Seed },
        }).ResponseAsync;
        Func<Task> throughGateway = async () =>
        {
            using var response = await gateway.PostAsJsonAsync("/v1/completions", new Dictionary<string, object>
            {
                ["prompt"] = Prompt, ["max_tokens"] = maxTokens, ["seed"] = Seed, ["top_k"] = 0,
            });
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        };

        // The same request with a Content-Length, as curl and most SDKs send it (PostAsJsonAsync streams it chunked).
        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["prompt"] = Prompt, ["max_tokens"] = maxTokens, ["seed"] = Seed, ["top_k"] = 0,
        });
        Func<Task> throughGatewaySized = async () =>
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await gateway.PostAsync("/v1/completions", content);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        };
        var paths = new (string Name, Func<Task> Call)[]
        {
            ("direct", direct), ("stream", directStream), ("preproc", throughPreprocessor), ("gateway", throughGateway), ("gw-sized", throughGatewaySized),
        };
        Console.WriteLine($"prompt {promptIds.Length} tokens, up to {maxTokens} new tokens, seed {Seed}; per path {requests} requests at 1 client (paired), {loadRequests} at 32 clients in {rounds} rounds; same tensors on every path");
        Console.WriteLine("direct = ModelInfer on CpuBackend, stream = ModelStreamInfer as the Preprocessor calls it, preproc = gptj.v1 Generate, gateway = POST /v1/completions");
        Console.WriteLine("clients  path      p50 ms   p99 ms   req/s");
        foreach (var (_, call) in paths)
            await MeasureAsync(call, 32, warmup);
        // Then rounds of every path until the services' JIT and this process's stop compiling (JitSettling).
        using var metricsClient = new HttpClient();
        var jit = new JitSettling(metricsClient, Services.Select(s => (s, new Uri(Endpoint(s, "http"), "/metrics"))).ToList());
        await jit.SettleAsync(async () =>
        {
            foreach (var (_, call) in paths) await MeasureAsync(call, 32, SettleRequests);
        }, QuietCompilations, MaxSettleRounds);
        foreach (var clients in new[] { 1, 32 })
        {
            foreach (var (_, call) in paths)
                await MeasureAsync(call, clients, Math.Min(requests, 16)); // connections for this level
            // One client: every request its own round (paired); 32 clients: rounds of steady load.
            var (perPath, roundsAtLevel) = clients == 1 ? (requests, requests) : (loadRequests, rounds);
            var results = await MeasureInRoundsAsync(paths.Select(p => p.Call).ToArray(), clients, perPath, roundsAtLevel, cpu);
            for (var i = 0; i < paths.Length; i++)
                Print(clients, paths[i].Name, results[i]);
            if (clients > 1)
            {
                Console.WriteLine($"{clients,7}  CPU per request, µs: {string.Join(" / ", Services)} / this client; and the rest of the cores' time (idle, interrupts, other processes)");
                for (var i = 0; i < paths.Length; i++)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{clients,7}  {paths[i].Name,-8} {string.Join(" / ", results[i].CpuMicroseconds.Select(us => us.ToString("F0", CultureInfo.InvariantCulture)))}; {results[i].RestMicroseconds:F0}"));
                // With every core busy, a path serves the cores' time divided by the CPU a request costs all processes
                // together: the ratio the CPU alone accounts for, beside the measured one below (docs/grpc.md).
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{clients,7}  throughput ratio the CPU per request accounts for: gateway {results[0].CpuMicroseconds.Sum() / results[3].CpuMicroseconds.Sum():F3}, gw-sized {results[0].CpuMicroseconds.Sum() / results[4].CpuMicroseconds.Sum():F3}"));
            }
            for (var i = 1; i < paths.Length - 1; i++)
                PrintAdded(clients, $"{paths[i].Name} vs {paths[i - 1].Name}", results[i], results[i - 1]);
            PrintAdded(clients, "gw-sized vs preproc", results[4], results[2]);
            PrintAdded(clients, "gateway vs direct", results[3], results[0]);
            PrintAdded(clients, "gw-sized vs direct", results[4], results[0]);
        }
        return 0;
    }

    // A warm-up round: requests per path at 32 clients. The JIT counts as settled when no service compiled more than 25
    // methods during one (tier-ups of rarer branches trickle on): on 2 cores after 4-12 rounds, the Gateway's +3,500-3,800
    // of the first round down to 4-33; under the AppHost the backend went on at about 20 a round.
    const int SettleRequests = 256;
    const int QuietCompilations = 25;
    const int MaxSettleRounds = 20;

    // Every benchmark client comes from 127.0.0.1, one caller to the per-caller rate limits: they would measure
    // the limiter, not the serving path, so they are off here (0 = off).
    static readonly IReadOnlyDictionary<string, string> UnlimitedCallers = new Dictionary<string, string>
    {
        ["Gateway__RateLimits__RequestsPerMinute"] = "0",
        ["Gateway__RateLimits__TokensPerMinute"] = "0",
        ["Gateway__RateLimits__ConcurrentRequests"] = "0",
    };

    // The whole AppHost on the CPU backend, every service healthy; the Gateway on a port Aspire picks (Gateway:Port empty),
    // with the given environment variables on top (a suite's Gateway settings).
    internal static async Task<DistributedApplication> StartAppAsync(IReadOnlyDictionary<string, string>? gatewayEnvironment = null)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(["Backend=cpu", "Gateway:Port="]);
        // Aspire.Hosting.Testing prints every line the services log (each request's, when Debug is on): thousands of lines
        // per run on the cores being measured.
        // The AppHost's own health checks of the services fail while the app stops at the end of a suite, one error with a
        // stack trace per check; a service that fails while measured fails its requests instead.
        builder.Services.AddLogging(logging => logging
            .AddFilter($"{nameof(AppHost)}.Resources", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.None));
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            builder.CreateResourceBuilder(project).WithEnvironment(context =>
            {
                // The services as deployed: the Development settings the AppHost runs them with log a Debug line per request
                // in the Preprocessor and the backend, which the orchestrator then carries to this process.
                context.EnvironmentVariables["Logging__LogLevel__GptjAspire"] = "Information";
                // A testing host starts no dashboard, so nothing listens at the OTLP endpoint the AppHost gives the services:
                // each export would fail and be kept for a retry.
                context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
                // Exemplars (trace-based) are for the dashboard's metric charts, which a testing host does not have; the
                // deployment manifests leave them off. Offering one to a histogram at each measurement cost the Preprocessor
                // 18 µs and the Gateway 7 µs of CPU per request (paired runs, docs/grpc.md).
                context.EnvironmentVariables.Remove("OTEL_METRICS_EXEMPLAR_FILTER");
            });
        }
        var gateway = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "gateway");
        foreach (var (name, value) in UnlimitedCallers.Concat(gatewayEnvironment ?? new Dictionary<string, string>()))
            builder.CreateResourceBuilder(gateway).WithEnvironment(name, value);
        var app = await builder.BuildAsync();
        await app.StartAsync();
        foreach (var service in new[] { "backend", "preprocessor", "gateway" })
            await app.ResourceNotifications.WaitForResourceHealthyAsync(service);
        return app;
    }

    // The tensors the Preprocessor sends for the Gateway request above (GenerationTensors.Request): top_p and temperature 1,
    // top_k off, the seed, one sample, only new tokens in the output.
    static ModelInferRequest DirectRequest(int[] promptIds, int maxTokens, int? endId, bool streaming)
    {
        var request = new ModelInferRequest { ModelName = GenerationContract.DefaultModelName, Id = Guid.NewGuid().ToString("N") };
        request.AddInput<int>(GenerationContract.InputIds, [1, promptIds.Length], promptIds);
        request.AddInput<int>(GenerationContract.InputLengths, [1, 1], [promptIds.Length]);
        request.AddInput<int>(GenerationContract.RequestOutputLen, [1, 1], [maxTokens]);
        if (endId is { } end)
        {
            request.AddInput<int>(GenerationContract.EndId, [1, 1], [end]);
            request.AddInput<int>(GenerationContract.PadId, [1, 1], [end]);
        }
        request.AddInput<int>(GenerationContract.RuntimeTopK, [1, 1], [0]);
        request.AddInput<float>(GenerationContract.RuntimeTopP, [1, 1], [1f]);
        request.AddInput<float>(GenerationContract.Temperature, [1, 1], [1f]);
        request.AddInput<ulong>(GenerationContract.Seed, [1, 1], [Seed]);
        request.AddInput<int>(GenerationContract.NumReturnSequences, [1, 1], [1]);
        request.AddInput<bool>(GenerationContract.ExcludeInputInOutput, [1, 1], [true]);
        request.AddInput<bool>(GenerationContract.Streaming, [1, 1], [streaming]);
        return request;
    }

    /// <param name="Latencies">In the order measured: with one request per round, element j of every path is round j.</param>
    /// <param name="CpuMicroseconds">Processor time per request of each process of <see cref="ProcessorTimes"/> while the path ran.</param>
    /// <param name="RestMicroseconds">The cores' time per request that none of those processes used while the path ran: idle
    /// time, the kernel's interrupt work, and other processes (the orchestrator and its proxies under the AppHost).</param>
    sealed record Result(double P50, double P99, double PerSecond, double[] Latencies, double[] CpuMicroseconds, double RestMicroseconds = 0);

    // Each round measures every path with its share of the requests; a path's latencies, wall time and the processes' CPU
    // time add up over the rounds.
    static async Task<Result[]> MeasureInRoundsAsync(Func<Task>[] paths, int clients, int requests, int rounds, ProcessorTimes cpu)
    {
        var latencies = paths.Select(_ => new List<double>()).ToArray();
        var seconds = new double[paths.Length];
        var cpuSeconds = paths.Select(_ => new double[cpu.Count]).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < paths.Length; i++)
            {
                var before = cpu.Read();
                var (measured, wall) = await MeasureOnceAsync(paths[i], clients, requests / rounds);
                var after = cpu.Read();
                for (var p = 0; p < cpu.Count; p++) cpuSeconds[i][p] += (after[p] - before[p]).TotalSeconds;
                latencies[i].AddRange(measured);
                seconds[i] += wall.TotalSeconds;
            }
        }
        return latencies.Select((l, i) => Summarize([.. l], seconds[i]) with
        {
            CpuMicroseconds = [.. cpuSeconds[i].Select(s => s * 1e6 / l.Count)],
            RestMicroseconds = (Environment.ProcessorCount * seconds[i] - cpuSeconds[i].Sum()) * 1e6 / l.Count,
        }).ToArray();
    }

    // A service's process under the AppHost. The orchestrator reports the resource's executable.pid, which for a project is
    // `dotnet run`; the service is its only child (Linux lists it in /proc/<pid>/task/<pid>/children).
    static async Task<Process> ResourceProcessAsync(DistributedApplication app, string resource)
    {
        const string PidProperty = "executable.pid";
        var ready = await app.ResourceNotifications.WaitForResourceAsync(resource,
            e => e.Snapshot.Properties.Any(p => p.Name == PidProperty && p.Value is not null));
        var pid = Convert.ToInt32(ready.Snapshot.Properties.First(p => p.Name == PidProperty).Value, CultureInfo.InvariantCulture);
        var children = $"/proc/{pid}/task/{pid}/children";
        var child = File.Exists(children) ? File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        return Process.GetProcessById(child.Length == 1 ? int.Parse(child[0], CultureInfo.InvariantCulture) : pid);
    }

    static async Task<Result> MeasureAsync(Func<Task> call, int clients, int requests)
    {
        var (latencies, wall) = await MeasureOnceAsync(call, clients, requests);
        return Summarize(latencies, wall.TotalSeconds);
    }

    static Result Summarize(double[] latencies, double seconds)
    {
        var sorted = latencies.Order().ToArray();
        return new Result(Percentile(sorted, 0.50), Percentile(sorted, 0.99), latencies.Length / seconds, latencies, []);
    }

    static async Task<(double[] Latencies, TimeSpan Wall)> MeasureOnceAsync(Func<Task> call, int clients, int requests)
    {
        var latencies = new double[requests];
        var next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                var started = Stopwatch.GetTimestamp();
                await call();
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        })));
        wall.Stop();
        return (latencies, wall.Elapsed);
    }

    // At one client the requests of the paths were paired (see remarks): the median of the per-request differences.
    static void PrintAdded(int clients, string hop, Result path, Result anchor)
    {
        var added = clients == 1
            ? Percentile(path.Latencies.Zip(anchor.Latencies, (a, b) => a - b).Order().ToArray(), 0.50)
            : path.P50 - anchor.P50;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{clients,7}  added by {hop,-20} p50 {added,7:F2} ms  p99 {path.P99 - anchor.P99,8:F2} ms  throughput ratio {path.PerSecond / anchor.PerSecond:F3}"));
    }

    internal static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];

    static void Print(int clients, string path, Result result) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clients,7}  {path,-8} {result.P50,7:F2}  {result.P99,7:F2}  {result.PerSecond,7:F1}"));

    internal static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
