namespace GptjAspire.GrpcTransport.Tests.TestService;

/// <summary>One default test host and channel shared by the tests of a class.</summary>
public sealed class HostFixture : IAsyncLifetime
{
    private TestHost? _host;
    private GrpcChannel? _channel;

    public TestHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public GrpcChannel Channel => _channel ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync();
        _channel = _host.CreateChannel();
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
