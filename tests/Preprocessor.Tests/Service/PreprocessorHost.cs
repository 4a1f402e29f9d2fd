extern alias gateway;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.Preprocessor.Text;
using GptjAspire.ServiceDefaults;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PreprocessorClient = gateway::GptjAspire.Gptj.V1.Preprocessor.PreprocessorClient;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>
/// The Preprocessor's application, composed as its Program.cs does, on a free loopback port (HTTP/2) with the tiny
/// fixture tokenizer, wired through the discovery key Aspire sets to a <see cref="ScriptedKServe"/> backend; called
/// with the Gateway's own generated client.
/// </summary>
internal sealed class PreprocessorHost : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly GrpcChannel _channel;

    readonly ScriptedKServe? _backend;

    PreprocessorHost(ScriptedKServe? backend, WebApplication app, string address, LogRecorder log)
    {
        Log = log;
        _backend = backend;
        _app = app;
        Address = address;
        _channel = GrpcChannel.ForAddress(address);
        Client = new PreprocessorClient(_channel);
    }

    /// <summary>The scripted backend this host started (not there when it was given another backend's address).</summary>
    public ScriptedKServe Backend => _backend ?? throw new InvalidOperationException("This Preprocessor calls a backend it did not start.");

    public IServiceProvider Services => _app.Services;

    /// <summary>What the Preprocessor logged.</summary>
    public LogRecorder Log { get; }

    public string Address { get; }

    public PreprocessorClient Client { get; }

    /// <param name="configureBackend">Sets up the scripted backend before the Preprocessor first reads its model configuration.</param>
    /// <param name="settings">Configuration on top of what Aspire would set, e.g. the Preprocessor's own options.</param>
    public static async Task<PreprocessorHost> StartAsync(Action<ScriptedKServe>? configureBackend = null, Dictionary<string, string?>? settings = null)
    {
        var backend = await ScriptedKServe.StartAsync();
        configureBackend?.Invoke(backend);
        try
        {
            return await StartAsync(backend.Address, backend, settings, configureServices: null);
        }
        catch
        {
            await backend.DisposeAsync();
            throw;
        }
    }

    /// <summary>The Preprocessor in front of a backend at <paramref name="backendAddress"/> that someone else runs.</summary>
    /// <param name="configureServices">Adds to the Preprocessor's services, e.g. an interceptor that watches its calls.</param>
    public static Task<PreprocessorHost> StartAsync(string backendAddress, Action<IServiceCollection> configureServices) =>
        StartAsync(backendAddress, backend: null, settings: null, configureServices);

    static async Task<PreprocessorHost> StartAsync(string backendAddress, ScriptedKServe? backend, Dictionary<string, string?>? settings,
        Action<IServiceCollection>? configureServices)
    {
        var builder = WebApplication.CreateBuilder();
        // Only what Aspire would set: the appsettings.json files in the test output are the services' own.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [TextModel.PathKey] = TinyModel.Directory,
            [BackendModel.AddressKey] = backendAddress,
        });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var log = new LogRecorder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        builder.AddServiceDefaults();
        builder.AddPreprocessor();
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapPreprocessor();
        app.MapDefaultEndpoints();
        try
        {
            await app.StartAsync();
            // Ready now, rather than at the monitor's next poll.
            var state = await app.Services.GetRequiredService<BackendModel>().RefreshAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            if (!state.Ready)
                throw new InvalidOperationException($"The backend is not ready: {state.Detail}");
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new PreprocessorHost(backend, app, address, log);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_backend is not null)
            await _backend.DisposeAsync();
    }
}
