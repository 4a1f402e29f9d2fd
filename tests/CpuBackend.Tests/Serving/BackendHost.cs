using GptjAspire.CpuBackend.Serving;
using GptjAspire.TritonClient;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>CpuBackend's KServe server in this process on a free loopback port (Kestrel port 0), wired as Program.cs wires it.</summary>
internal sealed class BackendHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _checkpoint;

    private BackendHost(WebApplication app, string address, string? checkpoint)
    {
        _app = app;
        Address = address;
        _checkpoint = checkpoint;
        Client = TritonInferenceClient.ForAddress(address);
    }

    /// <summary>The gRPC endpoint, e.g. http://127.0.0.1:41234.</summary>
    public string Address { get; }

    public TritonInferenceClient Client { get; }

    /// <summary>A client for the KServe REST routes. The endpoints speak HTTP/2 only here, so it talks h2c with prior knowledge.</summary>
    public HttpClient CreateRestClient() => new()
    {
        BaseAddress = new Uri(Address),
        DefaultRequestVersion = System.Net.HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public ModelHost Model => _app.Services.GetRequiredService<ModelHost>();

    /// <summary>The server's services (its meter factory, for one).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a server on a fresh tiny checkpoint (or on <paramref name="modelPath"/>) and, unless told otherwise, waits until the model is loaded.</summary>
    public static async Task<BackendHost> StartAsync(IDictionary<string, string?>? settings = null, string? modelPath = null, bool waitForModel = true, int contextLength = TinyCheckpoint.ContextLength)
    {
        var checkpoint = modelPath is null ? TinyCheckpoint.Create(contextLength) : null;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        var configuration = new Dictionary<string, string?>
        {
            // Both endpoints speak HTTP/2 here so either bound address serves gRPC (their order is not guaranteed).
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:http:Protocols"] = "Http2",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Protocols"] = "Http2",
            ["Model:Path"] = modelPath ?? checkpoint,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.AddInferenceServer();
        var app = builder.Build();
        app.MapInferenceServer();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var host = new BackendHost(app, address, checkpoint);
        if (waitForModel)
        {
            await host.WaitForModelAsync();
        }
        return host;
    }

    private async Task WaitForModelAsync()
    {
        // A bound on the wait so a broken load fails the test instead of hanging it; not a speed assertion.
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (Model.Loaded is null)
        {
            Assert.Null(Model.Failure);
            await Task.Delay(20, limit.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_checkpoint is not null)
        {
            Directory.Delete(_checkpoint, recursive: true);
        }
    }
}
