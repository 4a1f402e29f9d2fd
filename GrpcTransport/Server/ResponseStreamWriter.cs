using GptjAspire.GrpcTransport.Wire;
using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Server;

/// <summary>Writes length-prefixed response messages to the HTTP/2 response body, one at a time.</summary>
internal sealed class ResponseStreamWriter<T>(HttpServerCallContext context) : IServerStreamWriter<T>
    where T : class, IMessage<T>
{
    private int _writing;

    public async Task WriteAsync(T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Interlocked.Exchange(ref _writing, 1) == 1)
        {
            throw new InvalidOperationException("A write is already in progress; await each WriteAsync before the next.");
        }
        try
        {
            var token = cancellationToken.CanBeCanceled ? cancellationToken : context.CancellationToken;
            token.ThrowIfCancellationRequested();
            context.CancellationToken.ThrowIfCancellationRequested();
            var writer = context.GetHttpContext().Response.BodyWriter;
            MessageFraming.Write(writer, message, context.Options.MaxSendMessageSize);
            await writer.FlushAsync(token).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }
}
