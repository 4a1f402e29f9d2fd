using GptjAspire.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>The Gateway's application, composed as its Program.cs does, on a loopback port and wired to a <see cref="FakePreprocessor"/> through the discovery key Aspire sets.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    readonly WebApplication _app;

    GatewayHost(FakePreprocessor preprocessor, WebApplication app, Uri address)
    {
        Preprocessor = preprocessor;
        _app = app;
        Client = new HttpClient { BaseAddress = address };
    }

    public FakePreprocessor Preprocessor { get; }

    public HttpClient Client { get; }

    public static async Task<GatewayHost> StartAsync(Dictionary<string, string>? settings = null)
    {
        var preprocessor = await FakePreprocessor.StartAsync();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        // Overrides the Gateway's appsettings.json endpoint: any free loopback port.
        builder.Configuration["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0";
        builder.Configuration["services:preprocessor:grpc:0"] = preprocessor.Address;
        foreach (var (key, value) in settings ?? [])
            builder.Configuration[key] = value;

        builder.AddServiceDefaults();
        builder.AddGatewayApi();
        var app = builder.Build();
        app.MapGatewayApi();
        app.MapDefaultEndpoints();
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new GatewayHost(preprocessor, app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Preprocessor.DisposeAsync();
    }
}
