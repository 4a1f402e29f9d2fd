using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Client;

/// <summary>The response messages of a server-streaming or duplex call.</summary>
internal sealed class ResponseStreamReader<TRequest, TResponse>(GrpcCall<TRequest, TResponse> call) : IAsyncStreamReader<TResponse>
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private TResponse? _current;
    private int _reading;

    public TResponse Current => _current ?? throw new InvalidOperationException("No current message; call MoveNext first.");

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _reading, 1) == 1)
        {
            throw new InvalidOperationException("A read is already in progress; await each MoveNext before the next.");
        }
        try
        {
            _current = await call.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            return _current is not null;
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }
}
