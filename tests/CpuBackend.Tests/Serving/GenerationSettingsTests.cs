using GptjAspire.CpuBackend.Generation;
using GptjAspire.CpuBackend.Serving;
using GptjAspire.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>How the serving layer wires the scheduler's settings, its liveness and its refusals.</summary>
public class GenerationSettingsTests
{
    [Fact]
    public async Task Invalid_generation_settings_stop_the_host_at_start_naming_each_setting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Generation:PrefillChunkTokens"] = "-1",
            ["Generation:KvCacheBudgetBytes"] = "0",
            ["Generation:StallTimeout"] = "00:00:00",
        });
        builder.AddInferenceServer();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("Generation:PrefillChunkTokens", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Generation:KvCacheBudgetBytes", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Generation:StallTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void Generation_settings_bind_from_configuration()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Generation:KvCacheType"] = "F16",
            ["Generation:KvCacheBudgetBytes"] = "1048576",
            ["Generation:PrefillChunkTokens"] = "64",
            ["Generation:StallTimeout"] = "00:00:45",
        });
        builder.AddInferenceServer();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<GenerationOptions>>().Value;

        Assert.Equal(GptjAspire.CpuBackend.Engine.KvCacheType.F16, options.KvCacheType);
        Assert.Equal(1048576, options.KvCacheBudgetBytes);
        Assert.Equal(64, options.PrefillChunkTokens);
        Assert.Equal(TimeSpan.FromSeconds(45), options.StallTimeout);
    }

    [Fact]
    public void The_generation_loop_check_decides_liveness()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddInferenceServer();
        using var host = builder.Build();

        var checks = host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;

        var loop = Assert.Single(checks, c => c.Name == "generation-loop");
        Assert.Contains(Extensions.LiveTag, loop.Tags);
    }

    [Fact]
    public void A_request_that_can_never_fit_the_kv_cache_budget_is_resource_exhausted()
    {
        var status = ServingErrors.ToStatus(new KvCacheBudgetExceededException(300, 200, 12, 3, 16), DateTime.MaxValue);

        Assert.Equal(Grpc.Core.StatusCode.ResourceExhausted, (Grpc.Core.StatusCode)status.Code);
        Assert.Contains("budget is 200 bytes", status.Message);
    }
}
