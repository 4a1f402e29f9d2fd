namespace GptjAspire.CpuBackend.Generation;

/// <summary>Thrown when a request arrives while <see cref="GenerationOptions.MaxQueuedRequests"/> requests already wait.</summary>
public sealed class QueueFullException(int maxQueuedRequests)
    : Exception($"The generation queue is full: {maxQueuedRequests} requests are already waiting.")
{
    public int MaxQueuedRequests { get; } = maxQueuedRequests;
}
