namespace GptjAspire.GrpcTransport.Client;

/// <summary>The parts of a client call that every call object exposes, whatever its message types.</summary>
internal interface IClientCall : IDisposable
{
    Task<Metadata> ResponseHeadersAsync { get; }

    Status GetStatus();

    Metadata GetTrailers();
}
