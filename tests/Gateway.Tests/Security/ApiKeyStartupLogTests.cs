using GptjAspire.Gateway.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Tests.Security;

/// <summary>An open Gateway says so once at startup; one with keys says keys are required and never logs a key.</summary>
public sealed class ApiKeyStartupLogTests
{
    sealed class Recorded : ILogger<ApiKeyStartupLog>
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    static async Task<Recorded> StartAsync(params string[] keys)
    {
        var log = new Recorded();
        var ring = new ApiKeyRing(Options.Create(new ApiKeyOptions { ApiKeys = keys }));
        await new ApiKeyStartupLog(ring, log).StartAsync(CancellationToken.None);
        return log;
    }

    [Fact]
    public async Task Without_keys_one_warning_names_the_settings()
    {
        var log = await StartAsync();

        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("Gateway:ApiKeys", entry.Message);
    }

    [Fact]
    public async Task With_keys_one_information_line_without_the_key()
    {
        var log = await StartAsync("sk-secret-value");

        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.DoesNotContain("sk-secret-value", entry.Message);
    }
}
