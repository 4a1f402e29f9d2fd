using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.ServiceDefaults;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>The Preprocessor's application, composed as its Program.cs does, on a loopback port with the tiny fixture model, in front of a
/// <see cref="ScriptedKServe"/> reached through the discovery key Aspire sets.</summary>
internal sealed class PreprocessorHost : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly GrpcChannel _channel;

    PreprocessorHost(WebApplication app, ScriptedKServe backend, string address)
    {
        _app = app;
        Backend = backend;
        _channel = GrpcChannel.ForAddress(address);
        Client = new PreprocessorCalls(_channel.CreateCallInvoker());
    }

    public ScriptedKServe Backend { get; }

    public PreprocessorCalls Client { get; }

    /// <param name="configureBackend">Sets up the scripted backend before the Preprocessor first reads its model configuration.</param>
    public static async Task<PreprocessorHost> StartAsync(Action<ScriptedKServe>? configureBackend = null, Dictionary<string, string?>? settings = null)
    {
        var backend = await ScriptedKServe.StartAsync();
        configureBackend?.Invoke(backend);
        var builder = WebApplication.CreateBuilder();
        // The Preprocessor's appsettings.json in this output folder has its own endpoints: none of it applies here.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Protocols"] = "Http2",
            ["services:backend:grpc:0"] = backend.Address,
            ["Model:Path"] = TinyModel.Directory,
        });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.Logging.ClearProviders();
        builder.AddServiceDefaults();
        builder.AddPreprocessor();
        var app = builder.Build();
        app.MapPreprocessor();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            await backend.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var host = new PreprocessorHost(app, backend, address);
        await host.WaitUntilReadyAsync();
        return host;
    }

    // The backend monitor polls every 0.5 s until the model is ready; bounded so a broken setup fails instead of hanging.
    async Task WaitUntilReadyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await Client.GetModelInfoAsync(timeout.Token)).Ready)
            await Task.Delay(100, timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Backend.DisposeAsync();
    }
}
