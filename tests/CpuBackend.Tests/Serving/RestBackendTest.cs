namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>A test class whose every test gets its own backend on a fresh tiny checkpoint and a REST client for it.</summary>
public abstract class RestBackendTest : IAsyncLifetime
{
    private protected BackendHost Backend { get; private set; } = null!;

    private protected HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Backend = await BackendHost.StartAsync();
        Http = Backend.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Backend.DisposeAsync();
    }
}
