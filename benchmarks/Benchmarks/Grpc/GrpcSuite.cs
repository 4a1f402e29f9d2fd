using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Grpc;

/// <summary>
/// Suite `grpc`: on loopback, unary round-trip latency (p50/p99, one call in flight), unary calls/s with many in flight, and
/// streamed messages/s on one ModelStreamInfer call (one token per response, as a generation streams), for each gRPC stack
/// client → its own server, each server in its own process, all measured in the same run: Grpc.AspNetCore with
/// Grpc.Net.Client, and grpcio (C-core, the anchor).
/// Options: --rounds N (5) --calls N (5000) --concurrency N (32) --seconds S (3) --responses N (20000).
/// </summary>
public static class GrpcSuite
{
    private const string Python = "/usr/bin/python3";

    /// <summary>The .NET stacks: how to serve (in a child process started with `--serve NAME`) and how to connect.</summary>
    private static readonly (string Name, string Label, Func<Task> Serve, Func<Uri, IBenchClient> Connect)[] Stacks =
    [
        ("aspnetcore", "Grpc.AspNetCore + Grpc.Net.Client", AspNetCoreStack.ServeAsync, AspNetCoreStack.Connect),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var serve = Array.IndexOf(args, "--serve");
        if (serve >= 0)
        {
            await Stacks.Single(s => s.Name == args[serve + 1]).Serve();
            return 0;
        }
        var rounds = Option(args, "--rounds", 5);
        var calls = Option(args, "--calls", 5000);
        var concurrency = Option(args, "--concurrency", 32);
        var seconds = Option(args, "--seconds", 3);
        var responses = Option(args, "--responses", 20000);

        var repo = RepositoryPaths.Root;
        var stubs = Directory.CreateTempSubdirectory("gptj-grpc-bench-").FullName;
        var servers = new List<ChildServer>();
        try
        {
            var protos = Path.Combine(repo, "TritonClient", "Protos");
            await RunToEndAsync(Python, ["-m", "grpc_tools.protoc", $"-I{protos}", $"--python_out={stubs}", $"--grpc_python_out={stubs}", "grpc_service.proto", "model_config.proto"]);
            var script = Path.Combine(repo, "benchmarks", "Benchmarks", "Grpc", "grpcio_bench.py");
            var clients = new List<(string Label, IBenchClient Client)>();
            foreach (var stack in Stacks)
            {
                var server = await ChildServer.StartAsync(SelfCommand(), [.. SelfArguments(), "grpc", "--serve", stack.Name]);
                servers.Add(server);
                clients.Add((stack.Label, stack.Connect(server.Address)));
            }
            var grpcioServer = await ChildServer.StartAsync(Python, [script, "serve", stubs]);
            servers.Add(grpcioServer);
            var target = $"127.0.0.1:{grpcioServer.Address.Port}";
            string Arg(int value) => value.ToString(CultureInfo.InvariantCulture);

            var results = clients.Select(_ => new List<Measurement>()).ToList();
            var anchor = new List<Measurement>();
            for (var round = 1; round <= rounds; round++)
            {
                for (var i = 0; i < clients.Count; i++)
                {
                    var client = clients[i].Client;
                    var (p50, p99) = await LatencyAsync(client, calls);
                    var rate = await ThroughputAsync(client, concurrency, seconds);
                    var streamed = await StreamRateAsync(client, responses);
                    results[i].Add(new Measurement(p50, p99, rate, streamed));
                    Console.WriteLine($"round {round}/{rounds} {clients[i].Label}: {results[i][^1]}");
                }
                var latency = JsonDocument.Parse(await RunToEndAsync(Python, [script, "latency", stubs, target, Arg(calls)])).RootElement;
                var throughput = JsonDocument.Parse(await RunToEndAsync(Python, [script, "throughput", stubs, target, Arg(concurrency), Arg(seconds)])).RootElement;
                var stream = JsonDocument.Parse(await RunToEndAsync(Python, [script, "stream", stubs, target, Arg(responses)])).RootElement;
                anchor.Add(new Measurement(latency.GetProperty("p50_us").GetDouble(), latency.GetProperty("p99_us").GetDouble(),
                    throughput.GetProperty("calls").GetDouble() / throughput.GetProperty("seconds").GetDouble(),
                    stream.GetProperty("messages").GetDouble() / stream.GetProperty("seconds").GetDouble()));
                Console.WriteLine($"round {round}/{rounds} grpcio: {anchor[^1]}");
            }

            var a = Measurement.Median(anchor);
            Console.WriteLine();
            Console.WriteLine($"loopback, medians of {rounds} rounds: unary latency over {calls} sequential calls; calls/s with {concurrency} in flight for {seconds} s; messages/s streamed on one ModelStreamInfer ({responses} responses)");
            Console.WriteLine($"| {"client -> server",-36} | {"p50 us",7} | {"p99 us",7} | {"calls/s",8} | {"stream msg/s",12} | {"p50 vs grpcio",13} | {"calls/s vs grpcio",17} | {"msg/s vs grpcio",15} |");
            Console.WriteLine($"| {new string('-', 36)} | {new string('-', 7)} | {new string('-', 7)} | {new string('-', 8)} | {new string('-', 12)} | {new string('-', 13)} | {new string('-', 17)} | {new string('-', 15)} |");
            for (var i = 0; i < clients.Count; i++)
            {
                Row(clients[i].Label, Measurement.Median(results[i]), a);
            }
            Row("grpcio (anchor)", a, a);
            Console.WriteLine("(ratios > 1 mean faster than grpcio)");
            foreach (var (_, client) in clients)
            {
                client.Dispose();
            }
            return 0;
        }
        finally
        {
            foreach (var server in servers)
            {
                server.Dispose();
            }
            Directory.Delete(stubs, recursive: true);
        }
    }

    private static void Row(string label, Measurement m, Measurement anchor) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {label,-36} | {m.P50,7:F0} | {m.P99,7:F0} | {m.CallsPerSecond,8:F0} | {m.StreamedPerSecond,12:F0} | {anchor.P50 / m.P50,12:F2}x | {m.CallsPerSecond / anchor.CallsPerSecond,16:F2}x | {m.StreamedPerSecond / anchor.StreamedPerSecond,14:F2}x |"));

    private static async Task<(double P50, double P99)> LatencyAsync(IBenchClient client, int calls)
    {
        for (var i = 0; i < Math.Min(calls, 2000); i++)
        {
            await client.PingAsync();
        }
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.PingAsync();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(samples);
        return (samples[calls / 2], samples[(int)(calls * 0.99)]);
    }

    private static async Task<double> ThroughputAsync(IBenchClient client, int concurrency, int seconds)
    {
        for (var i = 0; i < 500; i++)
        {
            await client.PingAsync();
        }
        var counts = new long[concurrency];
        var stopwatch = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            while (stopwatch.Elapsed < duration)
            {
                await client.PingAsync();
                counts[worker]++;
            }
        }));
        return counts.Sum() / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task<double> StreamRateAsync(IBenchClient client, int responses)
    {
        await client.StreamAsync(Math.Min(responses, 2000));
        var start = Stopwatch.GetTimestamp();
        var received = await client.StreamAsync(responses);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return received == responses
            ? received / elapsed
            : throw new InvalidOperationException($"The stream delivered {received} of {responses} responses.");
    }

    private sealed record Measurement(double P50, double P99, double CallsPerSecond, double StreamedPerSecond)
    {
        public static Measurement Median(List<Measurement> rounds) => new(
            Middle(rounds.Select(r => r.P50)), Middle(rounds.Select(r => r.P99)), Middle(rounds.Select(r => r.CallsPerSecond)), Middle(rounds.Select(r => r.StreamedPerSecond)));

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"p50 {P50:F0} us, p99 {P99:F0} us, {CallsPerSecond:F0} calls/s, {StreamedPerSecond:F0} streamed msg/s");

        private static double Middle(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }

    /// <summary>A server child process that prints its port first and stops when its stdin closes (or is killed).</summary>
    private sealed class ChildServer : IDisposable
    {
        private readonly Process _process;

        private ChildServer(Process process, int port)
        {
            _process = process;
            Address = new Uri($"http://127.0.0.1:{port}");
        }

        public Uri Address { get; }

        public static async Task<ChildServer> StartAsync(string command, string[] arguments)
        {
            var process = Start(command, arguments, redirectInput: true);
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
            if (!int.TryParse(line, out var port))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{command} did not report a port: {line} {await process.StandardError.ReadToEndAsync()}");
            }
            return new ChildServer(process, port);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }

    private static async Task<string> RunToEndAsync(string command, string[] arguments)
    {
        using var process = Start(command, arguments, redirectInput: false);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}");
    }

    private static Process Start(string command, string[] arguments, bool redirectInput)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"Could not start {command}.");
    }

    /// <summary>How to start this benchmark program again: its apphost, or dotnet with its dll.</summary>
    private static string SelfCommand() => Environment.ProcessPath ?? "dotnet";

    private static string[] SelfArguments() =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? [typeof(GrpcSuite).Assembly.Location] : [];

    private static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
