using System.Net;

namespace GptjAspire.GrpcTransport.Client;

/// <summary>A request body that stays open while the caller pushes messages into it, for client-streaming and duplex calls.</summary>
internal sealed class PushStreamContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PushStreamContent() => Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Wire.GrpcProtocol.ContentType);

    /// <summary>The HTTP/2 request stream, once the handler has sent the request headers.</summary>
    public Task<Stream> RequestStream => _stream.Task;

    /// <summary>Ends the request body (END_STREAM), or abandons it when the call is over.</summary>
    public void Complete() => _completed.TrySetResult();

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        // Flush so the request headers go out now: the server sees the call before the first message.
        await stream.FlushAsync().ConfigureAwait(false);
        _stream.TrySetResult(stream);
        await _completed.Task.ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
