using GptjAspire.GrpcTransport.Tests.TestService;

namespace GptjAspire.GrpcTransport.Tests.Interop;

/// <summary>Python stubs, a grpcio server with a channel of ours to it, and our C# test host for grpcio clients; all torn down after the class.</summary>
public sealed class GrpcioPeerFixture : IAsyncLifetime
{
    private PythonPeer? _peer;
    private PythonServer? _server;
    private GrpcChannel? _channel;
    private TestHost? _host;

    public PythonPeer Peer => _peer ?? throw new InvalidOperationException("Not started.");

    /// <summary>Our channel to the grpcio server.</summary>
    public GrpcChannel ChannelToGrpcio => _channel ?? throw new InvalidOperationException("Not started.");

    /// <summary>Our server, for grpcio clients.</summary>
    public TestHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _peer = await PythonPeer.CreateAsync();
        _server = await _peer.StartServerAsync();
        _channel = GrpcChannel.ForAddress(_server.Address);
        _host = await TestHost.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        _server?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        _peer?.Dispose();
    }
}
