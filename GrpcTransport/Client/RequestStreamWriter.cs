using GptjAspire.GrpcTransport.Wire;
using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Client;

/// <summary>The request messages of a client-streaming or duplex call, pushed into the open HTTP/2 request body.</summary>
internal sealed class RequestStreamWriter<TRequest, TResponse>(GrpcCall<TRequest, TResponse> call, PushStreamContent content) : IClientStreamWriter<TRequest>
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private int _writing;
    private bool _completed;

    public async Task WriteAsync(TRequest message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_completed)
        {
            throw new InvalidOperationException("The request stream has already been completed.");
        }
        if (Interlocked.Exchange(ref _writing, 1) == 1)
        {
            throw new InvalidOperationException("A write is already in progress; await each WriteAsync before the next.");
        }
        try
        {
            ThrowIfCallEnded();
            var frame = MessageFraming.Frame(message, call.ChannelOptions.MaxSendMessageSize);
            var ready = await Task.WhenAny(content.RequestStream, call.Finished).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (ready != content.RequestStream)
            {
                ThrowIfCallEnded();
            }
            var stream = await content.RequestStream.ConfigureAwait(false);
            try
            {
                await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                ThrowIfCallEnded();
                // The call's own status arrives through the response; report the write failure without deciding it.
                throw new RpcException(new Status(StatusCode.Unavailable, $"Error writing to the request stream. {e.GetType().Name}: {e.Message}"));
            }
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    public Task CompleteAsync()
    {
        _completed = true;
        content.Complete();
        return Task.CompletedTask;
    }

    private void ThrowIfCallEnded()
    {
        if (call.Finished.IsCompleted)
        {
            var status = call.GetStatus();
            throw status.StatusCode == StatusCode.OK
                ? new InvalidOperationException("The call is complete; no more messages can be written.")
                : new RpcException(status, call.GetTrailers());
        }
    }
}
