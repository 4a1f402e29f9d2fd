using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting.Testing;
using static GptjAspire.Benchmarks.Gateway.PredictLoadSuite;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>Issue 13's overload test: <c>/predict</c> arriving at about ten times the rate the embedded default sustains
/// (the whole AppHost, CPU backend, demo checkpoint). The Gateway must answer what it admits within its admission bound
/// (<c>Gateway:Admission:MaxQueueWait</c>), refuse the rest at once (429/503 with Retry-After, within 100 ms) and leave
/// nothing hanging.</summary>
/// <remarks>First the sustainable rate is measured: a few closed-loop clients, enough to fill the backend's batch,
/// for <c>--calibrate-seconds</c> (default 30). Then requests arrive open-loop (at fixed intervals, whatever the answers)
/// at <c>--factor</c> (default 10) times that rate for <c>--seconds</c> (default 60); a refused request is not retried.
/// Options: <c>--n-samples</c> (10), <c>--calibrate-clients</c> (4), <c>--max-queue-wait</c> seconds (30, set on the
/// Gateway), <c>--request-timeout</c> seconds (120). Exit code 0 only when the verdict is all yes.</remarks>
public static class OverloadSuite
{
    static readonly TimeSpan RefusalTarget = TimeSpan.FromMilliseconds(100);

    public static async Task<int> RunAsync(string[] args)
    {
        var samples = GatewaySuite.Option(args, "--n-samples", 10);
        var calibrateClients = GatewaySuite.Option(args, "--calibrate-clients", 4);
        var calibrate = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--calibrate-seconds", 30));
        var factor = GatewaySuite.Option(args, "--factor", 10);
        var duration = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--seconds", 60));
        var bound = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--max-queue-wait", 30));
        var requestTimeout = TimeSpan.FromSeconds(GatewaySuite.Option(args, "--request-timeout", 120));

        Console.WriteLine("Starting backend, preprocessor and gateway (the AppHost through Aspire.Hosting.Testing, demo checkpoint)...");
        await using var app = await GatewaySuite.StartAppAsync(new Dictionary<string, string>
        {
            ["Gateway__Admission__MaxQueueWait"] = bound.ToString("c", CultureInfo.InvariantCulture),
        });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue })
        {
            BaseAddress = app.GetEndpoint("gateway", "http"), Timeout = Timeout.InfiniteTimeSpan,
        };
        var body = new Dictionary<string, object> { ["text"] = Prompt, ["n_samples"] = samples };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"overload: POST /predict (n_samples {samples}); Gateway:Admission:MaxQueueWait {bound.TotalSeconds:F0} s; {Environment.ProcessorCount} cores, load average {Engine.EngineSuite.LoadAverage()}"));

        var calibration = await ClosedLoopAsync(http, body, calibrateClients, calibrate, requestTimeout);
        var sustainable = calibration.Count(o => o.Kind == Kind.Answered) / calibrate.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sustainable: {calibrateClients} closed-loop clients for {calibrate.TotalSeconds:F0} s answered {sustainable:F2} requests/s (refused {calibration.Count(o => o.Kind == Kind.Refused)}, failed {calibration.Count(o => o.Kind is not (Kind.Answered or Kind.Refused))})"));
        if (sustainable <= 0)
        {
            Console.WriteLine("verdict: nothing answered while calibrating; no overload run");
            return 1;
        }

        var rate = factor * sustainable;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"overload: {rate:F2} requests/s ({factor}x) arriving open-loop for {duration.TotalSeconds:F0} s; request timeout {requestTimeout.TotalSeconds:F0} s; load average {Engine.EngineSuite.LoadAverage()}"));
        var wall = Stopwatch.StartNew();
        var outcomes = await OpenLoopAsync(http, body, rate, duration, requestTimeout);
        Report(outcomes, wall.Elapsed, duration, sustainable, bound);
        return Verdict(outcomes, bound) ? 0 : 1;
    }

    static async Task<List<Outcome>> ClosedLoopAsync(HttpClient http, Dictionary<string, object> body, int clients, TimeSpan duration, TimeSpan timeout)
    {
        var wall = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var outcomes = new List<Outcome>();
            while (wall.Elapsed < duration)
            {
                var outcome = await SendAsync(http, body, timeout);
                outcomes.Add(outcome);
                // A cold Gateway's drain rate is its conservative seed: a refusal here means "not yet", not "stop".
                if (outcome.Kind != Kind.Answered)
                    await Task.Delay(TimeSpan.FromMilliseconds(100));
            }
            return outcomes;
        })));
        return perClient.SelectMany(o => o).ToList();
    }

    // Arrivals at fixed intervals, each sent whether or not the earlier ones were answered: the load does not slow down
    // when the server does, as real traffic would not.
    static async Task<List<Outcome>> OpenLoopAsync(HttpClient http, Dictionary<string, object> body, double rate, TimeSpan duration, TimeSpan timeout)
    {
        var sends = new List<Task<Outcome>>();
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < rate * duration.TotalSeconds; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate) - wall.Elapsed;
            if (due > TimeSpan.Zero)
                await Task.Delay(due);
            sends.Add(Task.Run(() => SendAsync(http, body, timeout)));
        }
        return [.. await Task.WhenAll(sends)];
    }

    static double[] Latencies(List<Outcome> outcomes, Kind kind) =>
        outcomes.Where(o => o.Kind == kind).Select(o => o.LatencyMs).Order().ToArray();

    static string Summary(double[] sorted) => sorted.Length == 0 ? "none" : string.Create(CultureInfo.InvariantCulture,
        $"p50 {GatewaySuite.Percentile(sorted, 0.50):F0} ms, p99 {GatewaySuite.Percentile(sorted, 0.99):F0} ms, max {sorted[^1]:F0} ms");

    static void Report(List<Outcome> outcomes, TimeSpan wall, TimeSpan duration, double sustainable, TimeSpan bound)
    {
        var answered = Latencies(outcomes, Kind.Answered);
        var refused = Latencies(outcomes, Kind.Refused);
        var failures = outcomes.Where(o => o.Kind is not (Kind.Answered or Kind.Refused)).ToList();
        var retryAfter = outcomes.Where(o => o.Kind == Kind.Refused).Select(o => double.Parse(o.Detail, CultureInfo.InvariantCulture)).Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            requests: {outcomes.Count} sent in {duration.TotalSeconds:F0} s, all ended after {wall.TotalSeconds:F0} s; answered (200) {answered.Length}; refused (429/503 with Retry-After) {refused.Length}; failures {failures.Count}{(failures.Count == 0 ? "" : " (" + string.Join(", ", failures.GroupBy(f => f.Detail).Select(g => $"{g.Key} x{g.Count()}")) + ")")}
            answered: {answered.Length / duration.TotalSeconds:F2} requests/s ({answered.Length / duration.TotalSeconds / sustainable:F2} of the sustainable rate); latency {Summary(answered)} (bound {bound.TotalSeconds:F0} s)
            refused: latency {Summary(refused)} (target under {RefusalTarget.TotalMilliseconds:F0} ms); Retry-After {(retryAfter.Length == 0 ? "none" : $"min {retryAfter[0]:F0} s, p50 {GatewaySuite.Percentile(retryAfter, 0.5):F0} s, max {retryAfter[^1]:F0} s")}
            """));
    }

    static bool Verdict(List<Outcome> outcomes, TimeSpan bound)
    {
        var answered = Latencies(outcomes, Kind.Answered);
        var refused = Latencies(outcomes, Kind.Refused);
        var underBound = answered.Length > 0 && GatewaySuite.Percentile(answered, 0.99) < bound.TotalMilliseconds;
        var quickRefusals = refused.Length > 0 && GatewaySuite.Percentile(refused, 0.99) < RefusalTarget.TotalMilliseconds;
        var nothingHangs = outcomes.All(o => o.Kind is Kind.Answered or Kind.Refused);
        Console.WriteLine($"verdict: answered p99 under the bound {YesNo(underBound)}; refusals p99 under {RefusalTarget.TotalMilliseconds:F0} ms {YesNo(quickRefusals)}; every request answered or refused (nothing hangs) {YesNo(nothingHangs)}");
        return underBound && quickRefusals && nothingHangs;
    }
}
