using GptjAspire.GrpcTransport.Wire;
using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Server;

/// <summary>Reads length-prefixed request messages from the HTTP/2 request body.</summary>
internal sealed class RequestStreamReader<T>(HttpServerCallContext context, MessageParser<T> parser) : IAsyncStreamReader<T>
    where T : class, IMessage<T>
{
    private T? _current;

    public T Current => _current ?? throw new InvalidOperationException("No current message; call MoveNext first.");

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        using var linked = cancellationToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, context.CancellationToken)
            : null;
        _current = await ReadAsync(linked?.Token ?? context.CancellationToken).ConfigureAwait(false);
        return _current is not null;
    }

    /// <summary>Reads the single request message of a unary or server-streaming call.</summary>
    public async Task<T> ReadSingleAsync()
    {
        var message = await ReadAsync(context.CancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.Internal, "The request ended without a message."));
        if (await ReadAsync(context.CancellationToken).ConfigureAwait(false) is not null)
        {
            throw new RpcException(new Status(StatusCode.Internal, "The request held more than one message for a method that takes one."));
        }
        return message;
    }

    private ValueTask<T?> ReadAsync(CancellationToken cancellationToken) =>
        MessageFraming.ReadAsync(context.GetHttpContext().Request.BodyReader, parser, context.Options.MaxReceiveMessageSize, cancellationToken);
}
