using GptjAspire.TritonClient;

namespace GptjAspire.Tests.Grpcio;

/// <summary>kserve_server.py (a KServe server on grpcio) in a child process, and a TritonClient connected to it.</summary>
public sealed class GrpcioKServeServer : IAsyncLifetime
{
    private GrpcioPeer _peer = null!;

    /// <summary>The server's address, e.g. http://127.0.0.1:41234.</summary>
    public string Address { get; private set; } = "";

    public TritonInferenceClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _peer = await GrpcioPeer.CreateAsync();
        Address = await _peer.StartServerAsync("kserve_server.py");
        Client = TritonInferenceClient.ForAddress(Address);
    }

    /// <summary>Waits until the server recorded how a request ended ("cancelled:id", "ended:id"), as its RepositoryIndex lists them.</summary>
    public async Task WaitForServerToRecordAsync(string entry)
    {
        // A bound so a call the server never sees end fails the test instead of hanging it; not a speed assertion.
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!(await Client.GetRepositoryIndexAsync(cancellationToken: limit.Token)).Models.Any(m => m.Name == entry))
        {
            await Task.Delay(20, limit.Token);
        }
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await _peer.DisposeAsync();
    }
}
