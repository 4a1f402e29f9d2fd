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

    /// <summary>The Gateway's services (its meter factory, for one).</summary>
    public IServiceProvider Services => _app.Services;

    /// <param name="mapExtra">Maps endpoints of the test's own next to the Gateway's (e.g. one that fails).</param>
    /// <param name="logs">Receives what the Gateway logs, through the log filters of its appsettings.json; by default nothing is logged.</param>
    /// <param name="time">The clock of the Gateway's rate limits and admission, for a test that must not see them refill.</param>
    public static async Task<GatewayHost> StartAsync(
        Dictionary<string, string>? settings = null, Action<WebApplication>? mapExtra = null, RecordedLogs? logs = null, TimeProvider? time = null)
    {
        var preprocessor = await FakePreprocessor.StartAsync();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
            builder.Logging.AddProvider(logs);
        // Overrides the Gateway's appsettings.json endpoint: any free loopback port.
        builder.Configuration["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0";
        builder.Configuration["services:preprocessor:grpc:0"] = preprocessor.Address;
        foreach (var (key, value) in settings ?? [])
            builder.Configuration[key] = value;

        if (time is not null)
            builder.Services.AddSingleton(time);
        builder.AddServiceDefaults();
        builder.AddGatewayApi();
        var app = builder.Build();
        app.MapGatewayApi();
        app.MapDefaultEndpoints();
        mapExtra?.Invoke(app);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            // A setting refused at startup: nothing of this host may outlive the test.
            await app.DisposeAsync();
            await preprocessor.DisposeAsync();
            throw;
        }

        // The API's address: not the management endpoint's, when a test configures one.
        var managementPort = MetricsEndpoint.ManagementPort(app.Configuration);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Single(a => new Uri(a).Port != managementPort);
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
