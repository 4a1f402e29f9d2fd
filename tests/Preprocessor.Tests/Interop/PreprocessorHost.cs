using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Text;
using GptjAspire.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.Preprocessor.Tests.Interop;

/// <summary>The Preprocessor in this process on a free loopback port, wired as Program.cs wires it, on the fixture
/// tokenizer and the backend at <c>backendAddress</c>, with a <see cref="CallWatch"/> on its calls.</summary>
internal sealed class PreprocessorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PreprocessorHost(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The gRPC endpoint, e.g. http://127.0.0.1:41234.</summary>
    public string Address { get; }

    public CallWatch Calls => _app.Services.GetRequiredService<CallWatch>();

    /// <summary>Starts the Preprocessor and waits until it sees the backend's model ready.</summary>
    public static async Task<PreprocessorHost> StartAsync(string backendAddress)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Both endpoints speak HTTP/2 here so either bound address serves gRPC (their order is not guaranteed).
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:http:Protocols"] = "Http2",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Protocols"] = "Http2",
            [BackendModel.AddressKey] = backendAddress,
            [TextModel.PathKey] = TinyModel.Directory,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddServiceDefaults();
        builder.AddPreprocessor();
        builder.Services.AddSingleton<CallWatch>();
        builder.Services.AddGrpc(options => options.Interceptors.Add<CallWatch>());
        var app = builder.Build();
        app.MapPreprocessor();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var state = await app.Services.GetRequiredService<BackendModel>().RefreshAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.True(state.Ready, state.Detail);
        return new PreprocessorHost(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
