using Grpc.Core;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>Collects what a server-streaming method writes.</summary>
internal sealed class CollectingWriter<T> : IServerStreamWriter<T>
{
    public List<T> Written { get; } = [];

    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(T message)
    {
        Written.Add(message);
        return Task.CompletedTask;
    }
}
