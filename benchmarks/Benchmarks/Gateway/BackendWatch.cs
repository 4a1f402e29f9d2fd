using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>What the load suite sees of CpuBackend from outside, as an operator would: its own log lines (each
/// finished request with its token count, the KV-cache budget it derived), its resident memory (VmRSS of the process
/// Aspire started) and the /health of the backend and the Gateway, polled every few seconds.</summary>
sealed partial class BackendWatch : IAsyncDisposable
{
    static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(5);

    readonly DistributedApplication _app;
    readonly int _pid;
    readonly string _instance; // the name Aspire keys the backend's logs by (its DCP resource), not "backend"
    readonly long _started = Stopwatch.GetTimestamp();
    readonly CancellationTokenSource _stop = new();
    readonly ConcurrentQueue<(double AtSeconds, int Tokens)> _finished = new();
    readonly List<Task> _tasks = [];
    long _peakRssBytes;
    long _lastRssBytes;
    int _polls, _backendUnhealthy, _gatewayUnhealthy;

    public BackendWatch(DistributedApplication app)
    {
        _app = app;
        if (!app.ResourceNotifications.TryGetCurrentState("backend", out var backend))
            throw new InvalidOperationException("Aspire reports no resource 'backend'");
        _instance = backend.ResourceId;
        _pid = Convert.ToInt32(backend.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value, CultureInfo.InvariantCulture);
        _tasks.Add(ReadLogsAsync());
        _tasks.Add(PollAsync());
    }

    public int ProcessId => _pid;
    public long? KvBudgetBytes { get; private set; }
    public long PeakRssBytes => Interlocked.Read(ref _peakRssBytes);
    public long LastRssBytes => Interlocked.Read(ref _lastRssBytes);
    public int Polls => _polls;
    public int BackendUnhealthyPolls => _backendUnhealthy;
    public int GatewayUnhealthyPolls => _gatewayUnhealthy;

    /// <summary>Requests the backend logged as finished, and their tokens, between two times since the watch started.</summary>
    public (int Requests, long Tokens) FinishedBetween(double fromSeconds, double toSeconds)
    {
        var inWindow = _finished.Where(f => f.AtSeconds >= fromSeconds && f.AtSeconds < toSeconds).ToList();
        return (inWindow.Count, inWindow.Sum(f => (long)f.Tokens));
    }

    public double SecondsSinceStart => Stopwatch.GetElapsedTime(_started).TotalSeconds;

    // The lines come formatted by the console logger; the budget line is in the backlog Aspire replays to a new watcher.
    async Task ReadLogsAsync()
    {
        var logs = _app.Services.GetRequiredService<ResourceLoggerService>();
        try
        {
            await foreach (var batch in logs.WatchAsync(_instance).WithCancellation(_stop.Token))
                foreach (var line in batch)
                {
                    if (Finished().Match(line.Content) is { Success: true } finished)
                        _finished.Enqueue((SecondsSinceStart, int.Parse(finished.Groups[1].Value, CultureInfo.InvariantCulture)));
                    else if (Budget().Match(line.Content) is { Success: true } budget)
                        KvBudgetBytes = long.Parse(budget.Groups[1].Value, CultureInfo.InvariantCulture);
                }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
    }

    async Task PollAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(4) };
        var backendHealth = new Uri(_app.GetEndpoint("backend", "http"), "/health");
        var gatewayHealth = new Uri(_app.GetEndpoint("gateway", "http"), "/health");
        using var timer = new PeriodicTimer(PollEvery);
        try
        {
            do
            {
                var rss = ResidentBytes(_pid);
                Interlocked.Exchange(ref _lastRssBytes, rss);
                if (rss > PeakRssBytes) Interlocked.Exchange(ref _peakRssBytes, rss);
                if (!await IsHealthyAsync(http, backendHealth)) Interlocked.Increment(ref _backendUnhealthy);
                if (!await IsHealthyAsync(http, gatewayHealth)) Interlocked.Increment(ref _gatewayUnhealthy);
                Interlocked.Increment(ref _polls);
            } while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
    }

    async Task<bool> IsHealthyAsync(HttpClient http, Uri health)
    {
        try
        {
            using var response = await http.GetAsync(health, _stop.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !_stop.IsCancellationRequested)
        {
            return false;
        }
    }

    // VmRSS of /proc/<pid>/status, in kB there.
    static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
        _stop.Dispose();
    }

    // GenerationScheduler's LogFinished and LogBudget messages.
    [GeneratedRegex(@"finished: \d+ sequences, (\d+) tokens")]
    private static partial Regex Finished();

    [GeneratedRegex(@"KV cache budget (\d+) bytes")]
    private static partial Regex Budget();
}
