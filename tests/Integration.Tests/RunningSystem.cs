using System.Collections.Concurrent;
using GptjAspire.Integration.Tests.Otlp;
using GptjAspire.LocalRun.Processes;

namespace GptjAspire.Integration.Tests;

/// <summary>The three real services started as LocalRun starts them (separate processes, free loopback ports, Aspire's variables),
/// on the demo checkpoint the services ship with, exporting traces to an in-test OTLP receiver; stopped and cleaned up when disposed.</summary>
public class RunningSystem : IAsyncLifetime
{
    /// <summary>A tiny random GPT-J whose vocabulary is the tiny byte-level tokenizer and which never ends a text by itself.</summary>
    public static readonly string TinyModelPath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny-gptj");

    /// <summary>The demo checkpoint as the services find it by default: next to their binaries.</summary>
    public static string DemoModelPath =>
        Path.Combine(Path.GetDirectoryName(ServiceBinaries.PathOf(ServiceBinaries.Preprocessor))!, "models", "gptj-vi-demo");

    /// <summary>Model folder given as <c>Model__Path</c>; null runs the services on their default, the demo checkpoint.</summary>
    protected virtual string? ModelPath => null;

    readonly ConcurrentQueue<string> _log = new();

    public OtlpReceiver Telemetry { get; private set; } = null!;

    public LocalSystem Services { get; private set; } = null!;

    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>Every line the services wrote, prefixed with the service's name.</summary>
    public IEnumerable<string> Log => _log;

    public async Task InitializeAsync()
    {
        Telemetry = await OtlpReceiver.StartAsync();
        var environment = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Telemetry.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            // Export finished spans within a fifth of a second instead of the default five.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        };
        if (ModelPath is { } path)
            environment["Model__Path"] = path;
        Services = new LocalSystem((service, line) => _log.Enqueue($"{service}| {line}"), environment);
        Services.Start();
        await WaitHealthyAsync(Services);
        Gateway = new HttpClient { BaseAddress = Services.GatewayUrl, Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>Waits for every started service's /health, failing with the services' own output if one never gets there.</summary>
    public async Task WaitHealthyAsync(LocalSystem services)
    {
        try
        {
            await services.WaitHealthyAsync(TimeSpan.FromMinutes(3), CancellationToken.None);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new InvalidOperationException($"{e.Message}\nService output:\n{string.Join("\n", _log.TakeLast(60))}", e);
        }
    }

    public async Task DisposeAsync()
    {
        Gateway?.Dispose();
        if (Services is not null)
            await Services.DisposeAsync();
        if (Telemetry is not null)
            await Telemetry.DisposeAsync();
    }
}

/// <summary>The same system on the tiny fixture model, whose generations always run to max_tokens: for tests that act on a generation midway.</summary>
public sealed class TinyModelSystem : RunningSystem
{
    protected override string? ModelPath => TinyModelPath;
}

/// <summary>Integration tests share one running system and run one at a time (the machine has two cores).</summary>
[CollectionDefinition(Name)]
public sealed class RunningSystemCollection : ICollectionFixture<RunningSystem>
{
    public const string Name = "running system";
}
