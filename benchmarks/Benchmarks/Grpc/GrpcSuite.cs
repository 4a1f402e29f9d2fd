using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using GptjAspire.GrpcTransport;
using GptjAspire.GrpcTransport.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Benchmarks.Grpc;

/// <summary>
/// Suite `grpc`: unary round-trip latency (p50/p99, one call in flight) and throughput (many calls in flight) on loopback,
/// our client → our server against grpcio client → grpcio server (the anchor), in the same run, each server in its own process.
/// Options: --rounds N (5) --calls N (5000) --concurrency N (32) --seconds S (3).
/// </summary>
public static class GrpcSuite
{
    private const string Python = "/usr/bin/python3";
    private const string Payload = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    private static readonly Method<HealthCheckRequest, HealthCheckResponse> Ping =
        new(MethodType.Unary, "bench.Echo", "Ping", HealthCheckRequest.Parser, HealthCheckResponse.Parser);

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--serve"))
        {
            await ServeAsync();
            return 0;
        }
        var rounds = Option(args, "--rounds", 5);
        var calls = Option(args, "--calls", 5000);
        var concurrency = Option(args, "--concurrency", 32);
        var seconds = Option(args, "--seconds", 3);

        var repo = RepositoryRoot();
        var stubs = Directory.CreateTempSubdirectory("gptj-grpc-bench-").FullName;
        try
        {
            await RunToEndAsync(Python, ["-m", "grpc_tools.protoc", $"-I{Path.Combine(repo, "GrpcTransport", "Protos", "grpc", "health", "v1")}", $"--python_out={stubs}", "health.proto"]);
            var script = Path.Combine(repo, "benchmarks", "Benchmarks", "Grpc", "grpcio_bench.py");
            using var ourServer = await ChildServer.StartAsync(SelfCommand(), [.. SelfArguments(), "grpc", "--serve"]);
            using var grpcioServer = await ChildServer.StartAsync(Python, [script, "serve", stubs]);
            using var channel = GrpcChannel.ForAddress(ourServer.Address);

            var ours = new List<Measurement>();
            var anchor = new List<Measurement>();
            for (var round = 1; round <= rounds; round++)
            {
                var (p50, p99) = await OurLatencyAsync(channel, calls);
                var rate = await OurThroughputAsync(channel, concurrency, seconds);
                ours.Add(new Measurement(p50, p99, rate));

                var target = $"127.0.0.1:{grpcioServer.Address.Port}";
                var latency = JsonDocument.Parse(await RunToEndAsync(Python, [script, "latency", stubs, target, calls.ToString(CultureInfo.InvariantCulture)])).RootElement;
                var throughput = JsonDocument.Parse(await RunToEndAsync(Python, [script, "throughput", stubs, target, concurrency.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture)])).RootElement;
                anchor.Add(new Measurement(latency.GetProperty("p50_us").GetDouble(), latency.GetProperty("p99_us").GetDouble(),
                    throughput.GetProperty("calls").GetDouble() / throughput.GetProperty("seconds").GetDouble()));

                Console.WriteLine($"round {round}/{rounds}: ours p50 {ours[^1].P50:F0} us, p99 {ours[^1].P99:F0} us, {ours[^1].CallsPerSecond:F0} calls/s | grpcio p50 {anchor[^1].P50:F0} us, p99 {anchor[^1].P99:F0} us, {anchor[^1].CallsPerSecond:F0} calls/s");
            }

            var o = Measurement.Median(ours);
            var a = Measurement.Median(anchor);
            Console.WriteLine();
            Console.WriteLine($"unary round trip on loopback, medians of {rounds} rounds ({calls} sequential calls; {concurrency} in flight for {seconds} s):");
            Console.WriteLine($"  {"",-34} {"p50 us",8} {"p99 us",8} {"calls/s",9}");
            Console.WriteLine($"  {"GptjAspire client -> server",-34} {o.P50,8:F0} {o.P99,8:F0} {o.CallsPerSecond,9:F0}");
            Console.WriteLine($"  {"grpcio client -> server (anchor)",-34} {a.P50,8:F0} {a.P99,8:F0} {a.CallsPerSecond,9:F0}");
            Console.WriteLine($"  ratio (>1 means ours is faster): p50 {a.P50 / o.P50:F2}x, p99 {a.P99 / o.P99:F2}x, throughput {o.CallsPerSecond / a.CallsPerSecond:F2}x");
            return 0;
        }
        finally
        {
            Directory.Delete(stubs, recursive: true);
        }
    }

    private static async Task<(double P50, double P99)> OurLatencyAsync(GrpcChannel channel, int calls)
    {
        var request = new HealthCheckRequest { Service = Payload };
        for (var i = 0; i < Math.Min(calls, 2000); i++)
        {
            await channel.AsyncUnaryCall(Ping, request);
        }
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await channel.AsyncUnaryCall(Ping, request);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(samples);
        return (samples[calls / 2], samples[(int)(calls * 0.99)]);
    }

    private static async Task<double> OurThroughputAsync(GrpcChannel channel, int concurrency, int seconds)
    {
        var request = new HealthCheckRequest { Service = Payload };
        for (var i = 0; i < 500; i++)
        {
            await channel.AsyncUnaryCall(Ping, request);
        }
        var counts = new long[concurrency];
        var stopwatch = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            while (stopwatch.Elapsed < duration)
            {
                await channel.AsyncUnaryCall(Ping, request);
                counts[worker]++;
            }
        }));
        return counts.Sum() / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>The server half, run as a child process so each side's client and server are separate processes, as grpcio's are.</summary>
    private static async Task ServeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpcTransport();
        await using var app = builder.Build();
        app.MapGrpcService<PingService>(binder => binder.AddUnaryMethod(Ping, (service, request, context) => service.Ping(request, context)));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Console.WriteLine(new Uri(address).Port);
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
    }

    private sealed class PingService
    {
        public Task<HealthCheckResponse> Ping(HealthCheckRequest request, ServerCallContext context) =>
            Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
    }

    private sealed record Measurement(double P50, double P99, double CallsPerSecond)
    {
        public static Measurement Median(List<Measurement> rounds) => new(
            Middle(rounds.Select(r => r.P50)), Middle(rounds.Select(r => r.P99)), Middle(rounds.Select(r => r.CallsPerSecond)));

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

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GptjAspire.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Run the benchmarks from inside the GptjAspire repository (GptjAspire.sln not found above the binaries).");
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
