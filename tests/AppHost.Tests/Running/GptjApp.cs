using GptjAspire.AppHost.Tests.Otlp;
using GptjAspire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.AppHost.Tests.Running;

/// <summary>
/// The real AppHost started through Aspire.Hosting.Testing on the CPU backend: the orchestrator starts CpuBackend,
/// Preprocessor and Gateway as processes, wired as `dotnet run --project AppHost` wires them, on the demo checkpoint
/// the services ship with; their traces go to an in-test OTLP receiver. Stopping the app stops every process it started.
/// </summary>
public class GptjApp : IAsyncLifetime
{
    // Starting launches three processes and loads the model; a hang guard, not a speed requirement.
    private static readonly TimeSpan StartGuard = TimeSpan.FromMinutes(5);

    public const string BackendResource = "backend";
    public const string PreprocessorResource = "preprocessor";
    public const string GatewayResource = "gateway";
    public static readonly string[] Services = [BackendResource, PreprocessorResource, GatewayResource];

    /// <summary>A tiny random GPT-J whose vocabulary is the tiny byte-level tokenizer and which never ends a text by itself.</summary>
    public static readonly string TinyModelPath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny-gptj");

    /// <summary>The demo checkpoint the services serve by default.</summary>
    public static readonly string DemoModelPath = Path.GetFullPath(Path.Combine(Projects.AppHost.ProjectPath, "..", "models", "gptj-vi-demo"));

    private DistributedApplication? _app;

    /// <summary>Model folder given to the AppHost as <c>Model:Path</c>; null runs the services on their default, the demo checkpoint.</summary>
    protected virtual string? ModelPath => null;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("the app has not started");

    public OtlpReceiver Telemetry { get; private set; } = null!;

    /// <summary>A client of the Gateway's public endpoint (no retries: the tests see exactly what a client would).</summary>
    public HttpClient Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var guard = new CancellationTokenSource(StartGuard);
        Telemetry = await OtlpReceiver.StartAsync();
        List<string> args = [$"{BackendChoice.ConfigurationKey}=cpu", $"{PublicEndpoint.PortKey}={LoopbackPorts.Free()}"];
        if (ModelPath is { } path)
            args.Add($"Model:Path={path}");

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>([.. args], guard.Token);
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            // Added after Aspire's own OTLP settings, so these win: every span comes to this test, within a fifth of a second.
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", Telemetry.Endpoint)
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "200");
        }

        _app = await builder.BuildAsync(guard.Token);
        await _app.StartAsync(guard.Token);
        await WaitHealthyAsync(Services, guard.Token);
        Gateway = new HttpClient { BaseAddress = _app.GetEndpoint(GatewayResource, "http"), Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>Waits until each of <paramref name="services"/> is healthy by Aspire's health checks (their /health).</summary>
    /// <param name="behavior">What a service that is not running means: at start-up, that it failed (the wait stops at once);
    /// right after a restart, that Aspire has not yet replaced the stopped process's state (the wait goes on).</param>
    public async Task WaitHealthyAsync(IEnumerable<string> services, CancellationToken cancellationToken, WaitBehavior behavior = WaitBehavior.StopOnResourceUnavailable)
    {
        foreach (var service in services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, behavior, cancellationToken);
    }

    /// <summary>The latest state Aspire has of <paramref name="service"/>.</summary>
    public Task<ResourceEvent> CurrentAsync(string service, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceAsync(service, _ => true, cancellationToken);

    /// <summary>The service.instance.id Aspire gave <paramref name="service"/> (in OTEL_RESOURCE_ATTRIBUTES, as the process received it).</summary>
    public async Task<string> ServiceInstanceIdAsync(string service)
    {
        var current = await CurrentAsync(service, CancellationToken.None);
        var attributes = current.Snapshot.EnvironmentVariables.SingleOrDefault(v => v.Name == "OTEL_RESOURCE_ATTRIBUTES")?.Value
            ?? throw new InvalidOperationException($"Aspire passed {service} no OTEL_RESOURCE_ATTRIBUTES");
        return attributes.Split(',').Select(a => a.Split('=', 2)).Single(a => a[0].Trim() == "service.instance.id")[1].Trim();
    }

    /// <summary>The process id Aspire reports for <paramref name="service"/>.</summary>
    public async Task<int> ProcessIdAsync(string service)
    {
        var current = await CurrentAsync(service, CancellationToken.None);
        var pid = current.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value;
        return Convert.ToInt32(pid, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The resource <paramref name="service"/> of the app model, for Aspire's resource commands.</summary>
    public IResource Resource(string service) =>
        App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == service);

    public async Task DisposeAsync()
    {
        Gateway?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (Telemetry is not null)
            await Telemetry.DisposeAsync();
    }
}

/// <summary>The same app on the tiny fixture model, whose generations always run to max_tokens: for tests that act on a generation midway.</summary>
public sealed class TinyModelApp : GptjApp
{
    protected override string? ModelPath => TinyModelPath;
}

/// <summary>The distributed tests share one running app on the demo checkpoint and run one at a time (the machine has two cores).</summary>
[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<GptjApp>
{
    public const string Name = "running app";
}
