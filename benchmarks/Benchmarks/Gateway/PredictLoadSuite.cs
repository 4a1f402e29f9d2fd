using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using GptjAspire.Testing;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>Issue 16's bounded load test: many concurrent <c>/predict</c> clients against the embedded default (the whole
/// AppHost, CPU backend, demo checkpoint) for a bounded time; reports what was answered, refused or failed, latencies,
/// whether the backend still makes progress in the last minute, and its resident memory against its KV budget + weights.</summary>
/// <remarks>Options: <c>--clients N</c> (default 400), <c>--seconds N</c> of load (default 300), <c>--n-samples N</c>
/// (default 10), <c>--request-timeout N</c> seconds (default 120), <c>--max-requests-per-client N</c> (default 10000).
/// /predict has no per-request length: its max_length is the Gateway's <c>PredictMaxLength</c> setting. A refused client
/// waits the Retry-After it was given, as a well-behaved client would. Exit code 0 only when the verdict is all yes.</remarks>
public static class PredictLoadSuite
{
    internal const string Prompt = "Hà Nội là thủ đô của Việt Nam, nơi";
    static readonly TimeSpan ProgressWindow = TimeSpan.FromMinutes(1);

    /// <summary>How one request ended, as the client saw it.</summary>
    internal enum Kind { Answered, Refused, RefusedWithoutRetryAfter, OtherStatus, Timeout, Error }

    /// <summary>One request's ending and latency; <c>Detail</c> holds the Retry-After seconds of a refusal, else what failed.</summary>
    internal readonly record struct Outcome(Kind Kind, double LatencyMs, string Detail);

    public static async Task<int> RunAsync(string[] args)
    {
        var clients = GatewaySuite.Option(args, "--clients", 400);
        var duration = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--seconds", 300));
        var samples = GatewaySuite.Option(args, "--n-samples", 10);
        var requestTimeout = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--request-timeout", 120));
        var maxPerClient = GatewaySuite.Option(args, "--max-requests-per-client", 10_000);

        Console.WriteLine("Starting backend, preprocessor and gateway (the AppHost through Aspire.Hosting.Testing, demo checkpoint)...");
        await using var app = await GatewaySuite.StartAppAsync();
        await using var watch = new BackendWatch(app);
        var weightBytes = new FileInfo(RepositoryPaths.Combine("models", "gptj-vi-demo", "model.safetensors")).Length;

        // Loopback only: the Gateway's endpoint as Aspire allocated it on this machine.
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients })
        {
            BaseAddress = app.GetEndpoint("gateway", "http"), Timeout = Timeout.InfiniteTimeSpan,
        };
        var body = new Dictionary<string, object> { ["text"] = Prompt, ["n_samples"] = samples };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"load: {clients} clients x POST /predict (n_samples {samples}, \"{Prompt}\") for {duration.TotalSeconds:F0} s; request timeout {requestTimeout.TotalSeconds:F0} s, at most {maxPerClient} requests per client; {Environment.ProcessorCount} cores, load average {Engine.EngineSuite.LoadAverage()}"));

        var loadStarted = watch.SecondsSinceStart;
        var wall = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var outcomes = new List<Outcome>();
            for (var i = 0; i < maxPerClient && wall.Elapsed < duration; i++)
            {
                var outcome = await SendAsync(http, body, requestTimeout);
                outcomes.Add(outcome);
                if (outcome.Kind == Kind.Refused && duration - wall.Elapsed is { Ticks: > 0 } left)
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(double.Parse(outcome.Detail, CultureInfo.InvariantCulture), left.TotalSeconds)));
            }
            return outcomes;
        })));
        var loadEnded = watch.SecondsSinceStart;
        var all = perClient.SelectMany(o => o).ToList();

        Report(all, duration, wall.Elapsed, watch, loadStarted, loadEnded, weightBytes, out var verdict);
        return verdict ? 0 : 1;
    }

    /// <summary>Sends one <c>/predict</c> and classifies its ending; never throws for what the server or the timeout does.</summary>
    internal static async Task<Outcome> SendAsync(HttpClient http, Dictionary<string, object> body, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var sent = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.PostAsJsonAsync("/predict", body, deadline.Token);
            await response.Content.ReadAsByteArrayAsync(deadline.Token);
            var ms = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
            var status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.OK)
                return new Outcome(Kind.Answered, ms, "");
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                return response.Headers.RetryAfter?.Delta is { } retry
                    ? new Outcome(Kind.Refused, ms, retry.TotalSeconds.ToString(CultureInfo.InvariantCulture))
                    : new Outcome(Kind.RefusedWithoutRetryAfter, ms, $"{status} without Retry-After");
            return new Outcome(Kind.OtherStatus, ms, status.ToString(CultureInfo.InvariantCulture));
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return new Outcome(Kind.Timeout, Stopwatch.GetElapsedTime(sent).TotalMilliseconds, "timeout");
        }
        catch (HttpRequestException e)
        {
            return new Outcome(Kind.Error, Stopwatch.GetElapsedTime(sent).TotalMilliseconds, e.HttpRequestError.ToString());
        }
    }

    static void Report(List<Outcome> all, TimeSpan duration, TimeSpan wall, BackendWatch watch, double loadStarted, double loadEnded, long weightBytes, out bool verdict)
    {
        static string Count(IEnumerable<Outcome> outcomes, Kind kind) => outcomes.Count(o => o.Kind == kind).ToString(CultureInfo.InvariantCulture);
        string Latency(Kind kind)
        {
            var sorted = all.Where(o => o.Kind == kind).Select(o => o.LatencyMs).Order().ToArray();
            return sorted.Length == 0 ? "none" : string.Create(CultureInfo.InvariantCulture,
                $"p50 {GatewaySuite.Percentile(sorted, 0.50):F0} ms, p99 {GatewaySuite.Percentile(sorted, 0.99):F0} ms");
        }
        var failures = all.Where(o => o.Kind is Kind.RefusedWithoutRetryAfter or Kind.OtherStatus or Kind.Timeout or Kind.Error).ToList();
        // The last minute of the load itself, before the clients stop sending (their last requests may run on up to the timeout).
        var loadStopped = loadStarted + duration.TotalSeconds;
        var (lastRequests, lastTokens) = watch.FinishedBetween(Math.Max(loadStarted, loadStopped - ProgressWindow.TotalSeconds), loadStopped);
        var (runRequests, runTokens) = watch.FinishedBetween(loadStarted, loadEnded);
        const double MiB = 1024 * 1024;
        var budget = watch.KvBudgetBytes is { } kv ? kv + weightBytes : (long?)null;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            requests: {all.Count} in {wall.TotalSeconds:F0} s; answered (200) {Count(all, Kind.Answered)}; refused (429/503 with Retry-After) {Count(all, Kind.Refused)}; failures {failures.Count}{(failures.Count == 0 ? "" : " (" + string.Join(", ", failures.GroupBy(f => f.Detail).Select(g => $"{g.Key} x{g.Count()}")) + ")")}
            latency: answered {Latency(Kind.Answered)}; refused {Latency(Kind.Refused)}
            backend progress (its log of finished requests): last minute of load {lastRequests} requests, {lastTokens} tokens; whole load {runRequests} requests, {runTokens} tokens ({runTokens / Math.Max(1, loadEnded - loadStarted):F1} tokens/s)
            health polls: {watch.Polls}; backend /health not healthy {watch.BackendUnhealthyPolls}; gateway /health not healthy {watch.GatewayUnhealthyPolls}
            backend memory (VmRSS of pid {watch.ProcessId}): peak {watch.PeakRssBytes / MiB:F0} MiB, last {watch.LastRssBytes / MiB:F0} MiB; KV budget {(watch.KvBudgetBytes is { } b ? $"{b / MiB:F0} MiB" : "not logged")} + weights {weightBytes / MiB:F0} MiB = {(budget is { } l ? $"{l / MiB:F0} MiB" : "unknown")}
            """));
        var progress = lastTokens > 0;
        var everyRequest = failures.Count == 0;
        var memory = budget is { } limit && watch.PeakRssBytes <= limit;
        verdict = progress && everyRequest && memory;
        Console.WriteLine($"verdict: progress {YesNo(progress)}; every request answered or refused {YesNo(everyRequest)}; memory under KV budget + weights {YesNo(memory)}");
    }

    internal static string YesNo(bool value) => value ? "yes" : "no";
}
