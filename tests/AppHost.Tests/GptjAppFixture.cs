namespace GptjAspire.AppHost.Tests;

/// <summary>The whole AppHost started once with the CPU backend, its telemetry sent to an <see cref="OtlpTraceReceiver"/>.</summary>
public sealed class GptjAppFixture : IAsyncLifetime
{
    // Starting builds and launches three services and loads the model; a hang guard, not a speed requirement.
    private static readonly TimeSpan StartGuard = TimeSpan.FromMinutes(5);

    public static readonly string[] Services = ["backend", "preprocessor", "gateway"];

    private DistributedApplication? _app;

    public OtlpTraceReceiver Traces { get; private set; } = null!;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("the app has not started");

    public async Task InitializeAsync()
    {
        using var guard = new CancellationTokenSource(StartGuard);
        Traces = await OtlpTraceReceiver.StartAsync();

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(["Backend=cpu"], guard.Token);
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            // Added after Aspire's own OTLP settings, so these win: every span comes to this test.
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", Traces.Endpoint)
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "200")
                .WithEnvironment("OTEL_TRACES_SAMPLER", "always_on");
        }

        _app = await builder.BuildAsync(guard.Token);
        await _app.StartAsync(guard.Token);
        foreach (var service in Services)
        {
            await _app.ResourceNotifications.WaitForResourceHealthyAsync(service, guard.Token);
        }
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (Traces is not null)
        {
            await Traces.DisposeAsync();
        }
    }
}
