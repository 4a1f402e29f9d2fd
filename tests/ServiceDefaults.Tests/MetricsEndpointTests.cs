using System.Diagnostics.Metrics;
using System.Net;
using GptjAspire.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.ServiceDefaults.Tests;

public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_serves_our_meters_in_Prometheus_text()
    {
        await using var app = await StartAsync(management: null);
        var counter = app.Services.GetRequiredService<IMeterFactory>().Create("GptjAspire.Tests.Metrics")
            .CreateCounter<long>("gptj.test.requests", "{request}", "Requests seen by the test.");
        counter.Add(3, new KeyValuePair<string, object?>("outcome", "ok"));
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        using var response = await client.GetAsync(MetricsEndpoint.Path);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE gptj_test_requests_total counter", text);
        Assert.Contains("gptj_test_requests_total{otel_scope_name=\"GptjAspire.Tests.Metrics\",outcome=\"ok\"} 3", text);
    }

    [Fact]
    public async Task With_a_management_endpoint_metrics_answer_only_there()
    {
        var managementPort = LoopbackPorts.Free();
        await using var app = await StartAsync(management: $"http://127.0.0.1:{managementPort}");
        var publicUrl = app.Urls.Single(url => !url.EndsWith($":{managementPort}", StringComparison.Ordinal));
        using var client = new HttpClient();

        using var onPublic = await client.GetAsync(new Uri(new Uri(publicUrl), MetricsEndpoint.Path));
        using var onManagement = await client.GetAsync(new Uri($"http://127.0.0.1:{managementPort}{MetricsEndpoint.Path}"));
        using var healthOnPublic = await client.GetAsync(new Uri(new Uri(publicUrl), Extensions.HealthPath));

        Assert.Equal(HttpStatusCode.NotFound, onPublic.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onManagement.StatusCode);
        Assert.Contains("# TYPE", await onManagement.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, healthOnPublic.StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("not a url")]
    public void A_management_endpoint_without_a_fixed_port_is_refused_naming_the_setting(string url)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new(MetricsEndpoint.ManagementUrlKey, url)]).Build();

        var error = Assert.Throws<InvalidOperationException>(() => { MetricsEndpoint.ManagementPort(configuration); });

        Assert.Contains(MetricsEndpoint.ManagementUrlKey, error.Message);
    }

    private static async Task<WebApplication> StartAsync(string? management)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0";
        if (management is not null)
            builder.Configuration[MetricsEndpoint.ManagementUrlKey] = management;
        builder.WebHost.UseKestrel();
        builder.AddServiceDefaults();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync();
        return app;
    }
}
