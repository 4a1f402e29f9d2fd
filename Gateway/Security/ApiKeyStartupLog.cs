namespace GptjAspire.Gateway.Security;

/// <summary>Says once at startup whether the API needs a key, so an open Gateway is never a surprise.</summary>
public sealed class ApiKeyStartupLog(ApiKeyRing keys, ILogger<ApiKeyStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (keys.Enabled)
            logger.LogInformation("API keys are required on /predict and /v1/*");
        else
            logger.LogWarning("No API keys are configured (Gateway:ApiKeys, Gateway:ApiKeysFile): the API is open to every caller");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
