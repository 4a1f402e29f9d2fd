using System.Globalization;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>How many methods each service's JIT has compiled, read from its Prometheus endpoint
/// (<c>dotnet_jit_compiled_methods_total</c>, the runtime instrumentation ServiceDefaults registers), and this process's own
/// (<see cref="System.Runtime.JitInfo"/>): its clients share the cores, and under the AppHost it hosts the orchestrator's
/// client too.</summary>
/// <remarks>A warm-up of a fixed size left the Gateway's JIT running into the measured requests: on the 2-core VM (26 Nov
/// evening) it compiled about 8,000 methods, 3.2 s of JIT time, in the 8 s after gateway requests began, over half of the
/// Gateway's CPU samples under <c>perf</c>, and then stopped growing. A suite that warms until the counts stop growing
/// measures the services as they run after their first minutes. The benchmark's own JIT was not watched until 27 Nov: under
/// the AppHost, whose hosting code runs in this process, its tiered-compilation thread was still half of this process's
/// samples (<c>perf</c>) in the measured phase.</remarks>
internal sealed class JitSettling(HttpClient client, IReadOnlyList<(string Service, Uri Metrics)> services)
{
    const string Metric = "dotnet_jit_compiled_methods_total";

    const string ThisProcess = "this client";

    /// <summary>Compiled methods per service, in the order given, then this process's.</summary>
    public async Task<long[]> CountAsync()
    {
        var counts = new long[services.Count + 1];
        for (var i = 0; i < services.Count; i++)
        {
            var text = await client.GetStringAsync(services[i].Metrics);
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(Metric, StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"{services[i].Service} reports no {Metric} at {services[i].Metrics}");
            counts[i] = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        counts[services.Count] = System.Runtime.JitInfo.GetCompiledMethodCount();
        return counts;
    }

    /// <summary>Runs <paramref name="round"/> until no service (nor this process) compiled more than <paramref name="quiet"/> methods during one,
    /// or <paramref name="maxRounds"/> have run; prints each round's counts.</summary>
    public async Task SettleAsync(Func<Task> round, int quiet, int maxRounds)
    {
        var before = await CountAsync();
        for (var r = 1; r <= maxRounds; r++)
        {
            await round();
            var after = await CountAsync();
            var grown = after.Zip(before, (a, b) => a - b).ToArray();
            Console.WriteLine($"warm-up round {r}: JIT-compiled methods " +
                              string.Join(", ", services.Select(s => s.Service).Append(ThisProcess).Select((name, i) => $"{name} {after[i]} (+{grown[i]})")));
            if (grown.All(g => g <= quiet)) return;
            before = after;
        }
        Console.WriteLine($"the JIT was still compiling after {maxRounds} warm-up rounds; figures below include it");
    }
}
